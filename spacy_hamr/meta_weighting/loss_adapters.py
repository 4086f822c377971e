"""Per-component adapters: each records per-example losses and scales each
example's gradient by its weight, during spaCy's own `update`.

- textcat / textcat_multilabel: the instance's `get_loss` is shadowed; the
  recorded loss matches the objective really optimised: cross-entropy when the
  output layer is thinc's `Softmax` (whose backprop treats d_scores as the
  gradient of the logits), 1/2 squared error for `softmax_activation` (BOW) and
  `Logistic` (multilabel) outputs.
- ner (greedy): `EntityRecognizer` is a cdef class that refuses patching, so a
  Python subclass stands in the pipeline (the config keeps `factory = "ner"`,
  so saved pipelines load without this package). It scales each parser state's
  row of d_scores by its document's weight and records the transition NLL per
  document (sum over states, or the max, the reference code's reduction).

Static class weights (`LossBook.class_weights`, label -> weight) act where the
class lives: on the examples of a gold category (textcat), on a label's column
(textcat_multilabel: each label is its own binary problem), and on the parser
states whose gold transition belongs to an entity of that type (ner), so an
entity type is weighted without weighting the rest of its sentence.
"""

from collections import defaultdict
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import EntityRecognizer, MultiLabel_TextCategorizer, TextCategorizer
from spacy.training import Example

from .._private_api import examples_to_truth, replace_component
from ..errors import CALLBACK_BLOCK
from ..labels import POSITIVE
from ..textcat_output import output_is_softmax
from ..util import status


class Visit(NamedTuple):
    """What one update saw of a batch's examples (NaN / None: not recorded).

    confidence: the model's probability of the gold label (textcat; for
    multilabel, of the least likely gold value); margin: that probability less
    the largest other class's (multilabel: 2 confidence - 1); scores: the
    predicted probabilities (B, labels) in the order of score_labels.
    """

    losses: numpy.ndarray
    confidence: numpy.ndarray
    margin: numpy.ndarray
    scores: Optional[numpy.ndarray]
    score_labels: Optional[Tuple[str, ...]]


class LossBook:
    """Weights to apply and losses recorded, keyed by the reference Doc's id.

    Losses are kept per component: an example drawn twice in one batch is
    recorded twice with the same value, while a pipeline with two weighted
    components (textcat + ner) sums theirs. Predictions (confidence, margin,
    scores) are kept for the first textcat component: label errors are
    looked for in one label set.
    """

    def __init__(self) -> None:
        self.weights: Dict[int, float] = {}
        self.class_weights: Dict[str, float] = {}
        self.losses: Dict[str, Dict[int, float]] = defaultdict(dict)
        self.score_labels: Optional[Tuple[str, ...]] = None
        self.predictions: Dict[int, Tuple[float, float, numpy.ndarray]] = {}

    def weights_of(self, examples: Sequence[Example]) -> numpy.ndarray:
        return numpy.array([self.weights.get(id(eg.reference), 1.0) for eg in examples], dtype="f")

    def record(self, component: str, examples: Sequence[Example], losses: Iterable[float]) -> None:
        book = self.losses[component]
        for eg, loss in zip(examples, losses):
            book[id(eg.reference)] = float(loss)

    def record_predictions(
        self,
        labels: Sequence[str],
        examples: Sequence[Example],
        confidence: numpy.ndarray,
        margin: numpy.ndarray,
        scores: numpy.ndarray,
    ) -> None:
        if self.score_labels is None:
            self.score_labels = tuple(labels)
        elif self.score_labels != tuple(labels):
            return  # another textcat component's label set
        for eg, conf, marg, row in zip(examples, confidence, margin, scores):
            self.predictions[id(eg.reference)] = (float(conf), float(marg), row)

    def take_visit(self, examples: Sequence[Example]) -> Visit:
        """Losses and predictions recorded since the last take, then forget them."""
        known = [self.predictions.get(id(eg.reference)) for eg in examples]
        confidence = numpy.array([k[0] if k else numpy.nan for k in known])
        margin = numpy.array([k[1] if k else numpy.nan for k in known])
        scores = None
        if self.score_labels is not None:
            blank = numpy.full(len(self.score_labels), numpy.nan, dtype="f")
            scores = numpy.array([k[2] if k else blank for k in known], dtype="f").reshape(len(examples), len(blank))
        return Visit(self.take_losses(examples), confidence, margin, scores, self.score_labels)

    def take_losses(self, examples: Sequence[Example]) -> numpy.ndarray:
        """Per-example losses recorded since the last take (NaN where none), then
        forget them, and the predictions with them."""
        self.predictions.clear()
        out = numpy.zeros(len(examples))
        seen = numpy.zeros(len(examples), dtype=bool)
        for book in self.losses.values():
            for i, eg in enumerate(examples):
                if id(eg.reference) in book:
                    out[i] += book[id(eg.reference)]
                    seen[i] = True
        self.losses.clear()
        out[~seen] = numpy.nan
        return out


class TextcatWeighting:
    """Shadows `get_loss` on one TextCategorizer instance."""

    def __init__(self, pipe: TextCategorizer, book: LossBook):
        self.pipe = pipe
        self.book = book
        self.cross_entropy = output_is_softmax(pipe.model)
        self._original = pipe.get_loss
        pipe.get_loss = self.get_loss

    @classmethod
    def attach(cls, pipe: TextCategorizer, book: LossBook) -> "TextcatWeighting":
        """Wrap `pipe` once: a second training run of the same nlp rebinds the book
        instead of stacking a second wrapper (which would apply weights twice)."""
        current = getattr(pipe.get_loss, "__self__", None)
        if isinstance(current, cls):
            current.book = book
            return current
        return cls(pipe, book)

    def per_example_loss(self, truths: numpy.ndarray, mask: numpy.ndarray, scores: numpy.ndarray) -> numpy.ndarray:
        if self.cross_entropy:
            return -(truths * numpy.log(numpy.maximum(scores, 1e-12))).sum(axis=1)
        return 0.5 * (((scores - truths) * mask) ** 2).sum(axis=1)

    def class_factors(self, truths: numpy.ndarray) -> numpy.ndarray:
        """(B, 1) weights of each example's gold category, or (1, L) weights of
        each label's column for multilabel; 1 for unlisted labels."""
        table = numpy.array([self.book.class_weights.get(label, 1.0) for label in self.pipe.labels], dtype="f")
        if isinstance(self.pipe, MultiLabel_TextCategorizer):
            return table[None, :]
        positive = truths.max(axis=1) >= POSITIVE
        return numpy.where(positive, table[truths.argmax(axis=1)], 1.0).astype("f")[:, None]

    def get_loss(self, examples: Sequence[Example], scores):
        loss, d_scores = self._original(examples, scores)
        ops = self.pipe.model.ops
        truths, not_missing = examples_to_truth(self.pipe, examples)
        truths, mask, host_scores = ops.to_numpy(truths), ops.to_numpy(not_missing), ops.to_numpy(scores)
        self.book.record(self.pipe.name, examples, self.per_example_loss(truths, mask, host_scores))
        confidence, margin = gold_confidence(
            truths, mask, host_scores, not isinstance(self.pipe, MultiLabel_TextCategorizer)
        )
        self.book.record_predictions(self.pipe.labels, examples, confidence, margin, host_scores)
        weights = ops.asarray1f(self.book.weights_of(examples))[:, None]
        if self.book.class_weights:
            weights = weights * ops.asarray2f(self.class_factors(truths))
        return loss, d_scores * weights


def gold_confidence(
    truths: numpy.ndarray, mask: numpy.ndarray, scores: numpy.ndarray, exclusive: bool
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Per example: the predicted probability of the gold label, and its margin
    over the most likely other label (NaN without a gold label).

    Exclusive classes: p(gold) and p(gold) - max other p. Multilabel: each
    annotated label is its own yes/no question; the least confident one
    counts, with margin 2 p - 1 (p against 1 - p).
    """
    if exclusive:
        gold = truths >= POSITIVE
        has_gold = gold.any(axis=1)
        confidence = numpy.where(has_gold, (scores * gold).max(axis=1), numpy.nan)
        other = numpy.where(gold, -numpy.inf, scores).max(axis=1, initial=-numpy.inf)
        return confidence, confidence - other
    correct = numpy.where(truths >= POSITIVE, scores, 1.0 - scores)
    annotated = mask > 0
    confidence = numpy.where(annotated, correct, numpy.inf).min(axis=1, initial=numpy.inf)
    confidence = numpy.where(annotated.any(axis=1), confidence, numpy.nan)
    return confidence, 2 * confidence - 1


class WeightedEntityRecognizer(EntityRecognizer):
    """Greedy `ner` whose per-document losses are weighted and recorded."""

    def bind_hamr(self, book: LossBook, reduction: str) -> None:
        self.hamr_book = book
        self.hamr_reduction = reduction

    def update(self, examples, **kwargs):
        # Parser states hold the predicted copy `eg.x`; weights are keyed on `eg.y`.
        self._hamr_ref = {id(eg.x): eg for eg in examples}
        self._hamr_weight = dict(zip(self._hamr_ref, self.hamr_book.weights_of(examples)))
        # get_batch_loss runs once per transition step: build the class table once per update.
        self._hamr_action_weights = self._action_weights() if self.hamr_book.class_weights else None
        self._hamr_state_nll: Dict[int, List[float]] = defaultdict(list)
        result = super().update(examples, **kwargs)
        reduce = max if self.hamr_reduction == "max" else sum
        per_doc = [reduce(self._hamr_state_nll[id(eg.x)] or [0.0]) for eg in self._hamr_ref.values()]
        self.hamr_book.record(self.name, list(self._hamr_ref.values()), per_doc)
        return result

    def hamr_state_losses(self, example: Example) -> List[float]:
        """The per-state losses of `example` in the last update, in transition
        order: one per token (each BILUO move reads one token)."""
        return self._hamr_state_nll[id(example.x)]

    def get_batch_loss(self, states, golds, scores, losses):
        # The parser steps on the host on every device (spaCy's parser_model
        # scores states with NumpyOps), so scores and d_scores are numpy arrays.
        d_scores = super().get_batch_loss(states, golds, scores, losses)
        probs = numpy.exp(scores - scores.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        # d = p - [gold] q (softmax over the gold set), so p - d > 0 marks the gold actions.
        gold_mass = (probs * ((probs - d_scores) > 1e-7)).sum(axis=1)
        nll = -numpy.log(numpy.maximum(gold_mass, 1e-12))
        weights = numpy.ones(len(states), dtype="f")
        for i, state in enumerate(states):
            doc_id = id(state.doc)
            weights[i] = self._hamr_weight.get(doc_id, 1.0)
            self._hamr_state_nll[doc_id].append(float(nll[i]))
        if self._hamr_action_weights is not None:
            gold = (probs - d_scores) > 1e-7
            # A state with several gold actions (missing annotation) takes their mean weight.
            weights *= (gold * self._hamr_action_weights).sum(axis=1) / numpy.maximum(gold.sum(axis=1), 1)
        return d_scores * weights[:, None]

    def _action_weights(self) -> numpy.ndarray:
        """Each transition's class weight: that of its entity type for B/I/L/U
        moves, 1 for O and the rest."""
        table = self.hamr_book.class_weights
        names = [self.moves.get_class_name(i) for i in range(self.moves.n_moves)]
        return numpy.array([table.get(name.split("-", 1)[1], 1.0) if "-" in name else 1.0 for name in names], dtype="f")


def stand_in_weighted_ner(nlp: Language, name: str, pipe: EntityRecognizer) -> WeightedEntityRecognizer:
    """Replace `pipe` by a WeightedEntityRecognizer sharing its model, moves and settings."""
    cfg = pipe.cfg
    weighted = WeightedEntityRecognizer(
        pipe.vocab,
        pipe.model,
        name=name,
        moves=pipe.moves,
        update_with_oracle_cut_size=cfg["update_with_oracle_cut_size"],
        beam_width=cfg["beam_width"],
        beam_density=cfg["beam_density"],
        beam_update_prob=cfg["beam_update_prob"],
        incorrect_spans_key=cfg["incorrect_spans_key"],
        scorer=pipe.scorer,
    )
    weighted.cfg = cfg
    replace_component(nlp, name, weighted)
    return weighted


def is_loss_component(pipe) -> bool:
    """A trainable component with a loss of its own, not an embedding layer that
    listeners share (spaCy's Tok2Vec, spacy-transformers' Transformer)."""
    if not getattr(pipe, "is_trainable", False) or pipe.model in (True, False, None):
        return False
    return not hasattr(pipe, "add_listener")


def install(nlp: Language, book: LossBook, exclude: Sequence[str], ner_reduction: str) -> List[str]:
    """Install the adapters; return the names of the weighted components.

    Raises for beam NER (its update has no per-state hook). Other components
    with losses of their own train unweighted and are named once.
    """
    weighted, unweighted = [], []
    for name, pipe in list(nlp.pipeline):
        if name in exclude or not is_loss_component(pipe):
            continue
        if isinstance(pipe, TextCategorizer):
            TextcatWeighting.attach(pipe, book)
        elif isinstance(pipe, EntityRecognizer):
            if pipe.cfg.get("beam_width", 1) >= 2:
                raise ValueError(
                    f"{CALLBACK_BLOCK}: component '{name}' is a beam NER "
                    f"(beam_width = {pipe.cfg['beam_width']}); per-example weights only reach "
                    'greedy `ner`. Use factory = "ner", or train it without the hamr.v1 callback.'
                )
            ner = pipe if isinstance(pipe, WeightedEntityRecognizer) else stand_in_weighted_ner(nlp, name, pipe)
            ner.bind_hamr(book, ner_reduction)
        else:
            unweighted.append(name)
            continue
        weighted.append(name)
    if not weighted:
        raise ValueError(
            f"{CALLBACK_BLOCK}: no textcat, textcat_multilabel or ner "
            "component is being trained, so there is nothing to weight."
        )
    if unweighted:
        status(
            f"[hamr] Weighted: {', '.join(weighted)}. Trained with unweighted losses "
            f"(resampled only): {', '.join(unweighted)}."
        )
    return weighted
