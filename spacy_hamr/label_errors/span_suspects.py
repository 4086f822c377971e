"""NER label errors as spans: where the trained model disagrees with the gold
entities, and how strongly it rejects the gold reading there.

The model reads each training sentence (on the gold tokens); every
disagreement with the gold entities is a typed suspect:

- wrong_type: the model's span has the gold span's boundaries and another type;
- boundary: it overlaps a gold span with other boundaries;
- missing: it overlaps no gold span (an entity the annotation lacks);
- spurious: a gold span that no predicted entity overlaps.

Its score is the model's loss on the gold annotation at the suspect's
tokens: a pass of spaCy's own NER update (nothing applied) gives, per token,
-log of the probability the model puts on the transitions the gold entities
allow there (the per-state loss HAMR records in training,
spacy_hamr/meta_weighting/loss_adapters.py). A suspect scores its worst token; a sentence, its
strongest suspect. A model that is merely unsure of a span scores it low; one
that reads it confidently another way, high.
"""

from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import EntityRecognizer
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import fix_random_seed

from ..meta_weighting.loss_adapters import LossBook, WeightedEntityRecognizer, stand_in_weighted_ner

Span = Tuple[int, int, str]  # token start, token end (exclusive), label
KINDS = ("wrong_type", "boundary", "missing", "spurious")


class Suspect(NamedTuple):
    doc: int  # the sentence's position in the corpus
    kind: str
    gold: Optional[Span]
    predicted: Optional[Span]
    score: float


def ner_component(nlp: Language) -> str:
    names = [name for name, pipe in nlp.pipeline if isinstance(pipe, EntityRecognizer)]
    if not names:
        raise ValueError("The pipeline has no ner component.")
    return names[0]


def unannotated_copy(nlp: Language, doc: Doc) -> Doc:
    """The gold doc's tokens without annotation: the model reads the gold tokenisation."""
    return Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])


def gold_token_losses(
    nlp: Language, docs: Sequence[Doc], component: str, batch_size: int = 256, seed: int = 0
) -> List[numpy.ndarray]:
    """Per doc, the model's loss on the gold transitions at each token.

    The pass runs spaCy's update of the components up to `component` without
    an optimizer (nothing is applied); the parser's training-time dropout is
    seeded, so the losses repeat."""
    pipe = nlp.get_pipe(component)
    ner = pipe if isinstance(pipe, WeightedEntityRecognizer) else stand_in_weighted_ner(nlp, component, pipe)
    ner.bind_hamr(LossBook(), "sum")
    upto = nlp.pipe_names[: nlp.pipe_names.index(component) + 1]
    fix_random_seed(seed)
    out: List[numpy.ndarray] = []
    for start in range(0, len(docs), batch_size):
        batch = [Example(unannotated_copy(nlp, doc), doc) for doc in docs[start : start + batch_size]]
        for name in upto:
            step = nlp.get_pipe(name)
            if hasattr(step, "update") and getattr(step, "is_trainable", False):
                step.update(batch, drop=0.0, sgd=None, losses={})
            else:
                for eg in batch:
                    step(eg.predicted)
        out.extend(numpy.asarray(ner.hamr_state_losses(eg), dtype="float64") for eg in batch)
    return out


def doc_suspects(
    index: int, gold: Iterable[Span], predicted: Iterable[Span], token_losses: numpy.ndarray
) -> List[Suspect]:
    gold, predicted = sorted(set(gold)), sorted(set(predicted))

    def score(*spans: Optional[Span]) -> float:
        tokens = [t for span in spans if span for t in range(span[0], span[1]) if t < len(token_losses)]
        return float(token_losses[tokens].max()) if tokens else 0.0

    out = []
    for pred in predicted:
        if pred in gold:
            continue
        overlapping = [g for g in gold if g[0] < pred[1] and pred[0] < g[1]]
        if not overlapping:
            out.append(Suspect(index, "missing", None, pred, score(pred)))
        for g in overlapping:
            kind = "wrong_type" if (g[0], g[1]) == (pred[0], pred[1]) else "boundary"
            out.append(Suspect(index, kind, g, pred, score(g, pred)))
    for g in gold:
        if not any(p[0] < g[1] and g[0] < p[1] for p in predicted):
            out.append(Suspect(index, "spurious", g, None, score(g)))
    return out


def find_span_suspects(
    nlp: Language, docs: Sequence[Doc], component: Optional[str] = None, batch_size: int = 256
) -> List[Suspect]:
    """All suspects of the corpus, strongest first."""
    component = component or ner_component(nlp)
    losses = gold_token_losses(nlp, docs, component, batch_size)
    predictions = nlp.pipe((unannotated_copy(nlp, doc) for doc in docs), batch_size=batch_size)
    suspects: List[Suspect] = []
    for i, (doc, pred, token_losses) in enumerate(zip(docs, predictions, losses)):
        suspects.extend(
            doc_suspects(
                i,
                [(e.start, e.end, e.label_) for e in doc.ents],
                [(e.start, e.end, e.label_) for e in pred.ents],
                token_losses,
            )
        )
    return sorted(suspects, key=lambda s: (-s.score, s.doc, s.kind))


def sentence_scores(n_docs: int, suspects: Iterable[Suspect]) -> numpy.ndarray:
    """Each sentence's strongest suspect's score (0: none)."""
    scores = numpy.zeros(n_docs)
    for s in suspects:
        scores[s.doc] = max(scores[s.doc], s.score)
    return scores
