"""The label-error report of one training run: per class, the training examples
likeliest to be mislabelled, with the model's prediction and their nearest
neighbours, and an estimate for the whole corpus, as records (one per
reported example and class), a summary and the flagged examples to review.
`html_page.py` writes it as a page, `prodigy.py` as Prodigy tasks.

Text classification with one gold category per example (`textcat`): ranked by
the training dynamics the state file keeps (training_dynamics.py), the gold
label's mean probability over training, lowest first; `likely_error` where the
gold label lost to another on average, `suspect` (the high-precision tier)
where its mean probability stayed below chance (1 / the number of labels). The
summary counts likely errors per class, with a from -> to table.

NER: the span suspects of the trained model (span_suspects.py), typed
wrong_type / boundary / missing / spurious, each scored by the model's loss on
the gold reading at its tokens; a sentence ranks by its strongest.

Every other textcat run ranks by relative loss x hardness (ranking.py).
"""

import warnings
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from ..errors import HamrWarning
from ..labels import NO_LABEL, corpus_labels, is_textcat, positive_categories, primary_labels
from ..resampling.embedders import make_tfidf_embedder
from ..resampling.neighbors import Embedder, NeighbourIndex
from ..textcat_output import exclusive_classes_block
from ..training.state_file import in_corpus_order
from .ranking import hardness_scores, is_suspect, model_agrees, scored_per_label
from .span_suspects import KINDS, Suspect, find_span_suspects, sentence_scores
from .training_dynamics import (
    TextcatErrors,
    from_to_table,
    gold_indices,
    has_predictions,
    per_class_estimate,
    textcat_errors,
)


def embedder_of(nlp: Language) -> Embedder:
    """The embedder the model was trained with ([training.batcher] embedder of
    hamr.v1), else the default TF-IDF embedder."""
    batcher = nlp.config.get("training", {}).get("batcher", {})
    if batcher.get("@batchers") == "hamr.v1" and batcher.get("embedder"):
        return registry.resolve({"embedder": nlp.config.interpolate()["training"]["batcher"]["embedder"]})["embedder"]
    return make_tfidf_embedder()


def gold_of(doc: Doc, textcat: bool):
    if textcat:
        return positive_categories(doc.cats)
    return [[ent.text, ent.label_] for ent in doc.ents]


def predicted_of(doc: Doc, textcat: bool) -> Dict:
    if textcat:
        label = max(doc.cats, key=doc.cats.get) if doc.cats else None
        return {
            "label": label,
            "score": round(float(doc.cats[label]), 4) if label else None,
            "labels": positive_categories(doc.cats),
        }
    return {"entities": [[ent.text, ent.label_] for ent in doc.ents]}


def hard_type(gold: Doc, predicted: Doc, label: str) -> str:
    """The entity type with the most errors (missed or spurious spans), ties
    going to the type it is reported under, then to gold types; the type it is
    reported under when the model gets the sentence right."""
    gold_spans = {(e.start_char, e.end_char, e.label_) for e in gold.ents}
    pred_spans = {(e.start_char, e.end_char, e.label_) for e in predicted.ents}
    errors: Dict[str, int] = {}
    for _, _, span_label in gold_spans ^ pred_spans:
        errors[span_label] = errors.get(span_label, 0) + 1
    gold_types = {span[2] for span in gold_spans}
    return max(sorted(errors), key=lambda t: (errors[t], t == label, t in gold_types)) if errors else label


class Report(NamedTuple):
    records: List[Dict]  # one per reported example and class
    summary: Dict  # what the run says of the whole corpus (label_error_summary)
    flagged: List[Dict]  # every example to review, likeliest error first: index, score, and why


def build_report(
    nlp: Language,
    docs: Sequence[Doc],
    state: Dict[str, numpy.ndarray],
    positions: numpy.ndarray,
    top_k: int = 20,
    n_neighbours: int = 5,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
) -> Report:
    """The top_k likeliest label errors of each class, and the corpus summary.

    Exclusive textcat runs rank by the training dynamics (spacy_hamr/label_errors/training_dynamics.py),
    NER runs by their span suspects (spacy_hamr/label_errors/span_suspects.py), runs of a textcat
    that scores each label with its own sigmoid (textcat_multilabel, or textcat
    with exclusive_classes = false) and state files without predictions by
    `hardness_scores`.
    """
    textcat = is_textcat(docs)
    labels = corpus_labels(docs)
    exclusive = textcat and all(len(classes) <= 1 for classes in labels)
    n = len(docs)
    state = in_corpus_order(state, positions, n)
    errors, spans = None, None
    # spaCy's exclusive textcat has exactly one gold category per training example.
    dynamics = exclusive and has_predictions(state) and NO_LABEL not in primary_labels(labels)
    sigmoid = scored_per_label(nlp, state["score_labels"]) if dynamics else None
    if sigmoid is not None:
        warnings.warn(
            f"{sigmoid!r} scores each label with its own sigmoid (exclusive_classes = false in "
            f"{exclusive_classes_block(nlp, sigmoid)}): its scores are no distribution over the "
            "classes, which the gold label's probability tiers assume, so the examples are ranked "
            "by relative loss x hardness, as for textcat_multilabel.",
            HamrWarning,
        )
    if dynamics and sigmoid is None:
        gold = gold_indices(primary_labels(labels), list(state["score_labels"]))
        errors = textcat_errors(state, gold)
        score = errors.score
    elif not textcat:
        spans = find_span_suspects(nlp, docs)
        score = sentence_scores(n, spans)
    else:
        score = hardness_scores(state)
    chosen: Dict[int, List[Tuple[str, int]]] = {}  # example -> (class, rank) it is reported under
    for label in sorted({label for doc_classes in labels for label in doc_classes}):
        members = numpy.array([i for i in range(n) if label in labels[i]])
        order = members[numpy.argsort(-score[members], kind="stable")][:top_k]
        for rank, i in enumerate(order.tolist()):
            chosen.setdefault(i, []).append((label, rank + 1))
    reported = sorted(chosen)
    vectors = embedder_of(nlp)([Example(doc, doc) for doc in docs])
    index = NeighbourIndex(vectors)
    neighbours = index.search(numpy.array(reported, dtype="int64"), min(n, n_neighbours + 1))
    predictions = dict(zip(reported, nlp.pipe(progress([docs[i].text for i in reported]))))
    spans_of: Dict[int, List[Dict]] = {}  # sentence -> its suspects, as reported
    for suspect in spans or []:
        spans_of.setdefault(suspect.doc, []).append(suspect_fields(docs[suspect.doc], suspect))
    records = []
    for i, near in zip(reported, neighbours):
        near = [int(j) for j in near if j >= 0 and j != i][:n_neighbours]
        doc, pred = docs[i], predictions[i]
        for label, rank in chosen[i]:
            record = {
                "class": label,
                "rank": rank,
                "index": i,
                "text": doc.text,
                "gold": gold_of(doc, textcat),
                "predicted": predicted_of(pred, textcat),
                "score": round(float(score[i]), 6),
                "hardness": float(state["hardness"][i]),
                "weight": float(state["last_weight"][i]),
                "loss": _number(state["last_loss"][i]),
                "loss_history": [_number(x) for x in state["epoch_losses"][:, i]],
                "visits": int(state["visits"][i]),
                "neighbours": [{"index": j, "text": docs[j].text, "gold": gold_of(docs[j], textcat)} for j in near],
            }
            if errors is not None:
                record.update(label_error_fields(errors, i))
            elif spans is not None:
                record["span_suspects"] = spans_of.get(i, [])
                record["suspect"] = bool(record["span_suspects"])
            else:
                agrees = model_agrees(doc, pred, label, textcat, exclusive)
                record["suspect"] = is_suspect(label, [labels[j] for j in near], agrees)
            if not textcat:
                record["hard_type"] = hard_type(doc, pred, label)
            records.append(record)
    records.sort(key=lambda r: (r["class"], r["rank"]))
    summary = label_error_summary(errors, gold) if errors is not None else {}
    if spans is not None:
        summary.update(
            span_suspects=len(spans),
            sentences_with_suspects=len(spans_of),
            span_suspects_per_kind={kind: sum(s.kind == kind for s in spans) for kind in KINDS},
        )
    ranking = (
        "training dynamics"
        if errors is not None
        else "span suspects"
        if spans is not None
        else "relative loss x hardness"
    )
    summary.update(examples=n, resampled=bool(state.get("resampled", True)), ranking=ranking)
    if spans is not None:
        order = sorted(spans_of, key=lambda i: (-score[i], i))
        flagged = [{"index": i, "score": round(float(score[i]), 6), "span_suspects": spans_of[i]} for i in order]
    elif errors is not None:
        order = numpy.argsort(-score, kind="stable")
        flagged = [
            {
                "index": int(i),
                "score": round(float(score[i]), 6),
                "suspect": bool(errors.suspect[i]),
                "suggested": errors.labels[errors.suggested[i]],
            }
            for i in order
            if errors.likely[i]
        ]
    else:  # the suspects among the reported, once each (an example may be reported under several classes)
        suspects = {r["index"]: r["score"] for r in records if r["suspect"]}
        flagged = [
            {"index": i, "score": suspects[i], "suspect": True} for i in sorted(suspects, key=lambda i: -suspects[i])
        ]
    return Report(records, summary, flagged)


def suspect_fields(doc: Doc, suspect: Suspect) -> Dict:
    def span(s):
        return None if s is None else [doc[s[0] : s[1]].text, s[2]]

    return {
        "kind": suspect.kind,
        "gold": span(suspect.gold),
        "predicted": span(suspect.predicted),
        "score": round(suspect.score, 6),
    }


def label_error_fields(errors: TextcatErrors, i: int) -> Dict:
    return {
        "confidence": _number(errors.confidence[i]),
        "variability": _number(errors.variability[i]),
        "margin": _number(errors.margin[i]),
        "suggested": errors.labels[errors.suggested[i]],
        "likely_error": bool(errors.likely[i]),
        "suspect": bool(errors.suspect[i]),
    }


def label_error_summary(errors: TextcatErrors, gold: numpy.ndarray) -> Dict:
    return {
        "likely_errors": int(errors.likely.sum()),
        "suspects": int(errors.suspect.sum()),
        "never_drawn": int(numpy.isnan(errors.confidence).sum()),
        "likely_errors_per_class": per_class_estimate(errors, gold),
        "from_to": from_to_table(errors, gold),
    }


def _number(value) -> Optional[float]:
    return None if not numpy.isfinite(value) else round(float(value), 6)
