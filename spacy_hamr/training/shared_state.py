"""What HAMR knows about the training corpus, shared by the batcher and the callback.

spaCy gives the `before_update` callback neither the batch nor the corpus,
so the batcher publishes both here: the examples (in a stable order), the
batch it has just yielded, and per-example hardness and neighbour boost.
The callback publishes back what the batcher must respect: examples held out
of training (moved into the meta set) and the meta-learned class rates.

Example identity is the reference `Doc`: spaCy keeps the same `Example`
objects across epochs when `max_epochs >= 0`, but `Language.update` copies
the predicted docs of every batch, so only `eg.reference` is stable.

spaCy resolves `[training]` twice (once in `init_nlp`, once in `train`), so
two batchers are built; the one that is last *called* owns the active state,
and the callback looks it up at its first step, not when it is built.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, DefaultDict, Dict, Iterable, List, Optional, Sequence

import numpy
from spacy.training import Example

from ..labels import corpus_labels, is_textcat, label_counts

if TYPE_CHECKING:
    from ..meta_weighting.class_rates import ClassRates
    from ..meta_weighting.loss_adapters import Visit

# The readers of the step log: the batcher's epoch summary, and the stats logger's
# summary at each evaluation (hamr.stats_logger.v1).
EPOCH = "epoch"
EVALUATION = "evaluation"


class StepLog:
    """What the callback did at each step, by key ("weight": each example's loss
    weight, "meta_loss", "hypergrad_rms" and "meta_skipped" per meta step,
    "loss_weight" pairs), kept for each reader until that reader takes it. The
    batcher reads it at every epoch's end; the stats logger, once it follows,
    at every evaluation."""

    def __init__(self) -> None:
        self._kept: Dict[str, DefaultDict[str, list]] = {EPOCH: defaultdict(list)}

    def add(self, key: str, values: Iterable) -> None:
        values = list(values)
        for kept in self._kept.values():
            kept[key].extend(values)

    def follow(self, reader: str) -> None:
        """Keep the entries for `reader` too, from what this epoch has so far."""
        self._kept[reader] = defaultdict(list, {key: list(values) for key, values in self._kept[EPOCH].items()})

    def take(self, reader: str) -> Dict[str, list]:
        """What was added since `reader` last took it (or began to follow)."""
        taken, self._kept[reader] = self._kept[reader], defaultdict(list)
        return taken


@dataclass(frozen=True)
class DrawTally:
    """The draws handed to updates so far: in all, and per class (of `HamrState.classes`)."""

    total: int
    per_class: numpy.ndarray


class HamrState:
    """Per-example hardness, boost and identity for one training run."""

    def __init__(self) -> None:
        self.examples: List[Example] = []
        self.labels: List[List[str]] = []
        self.textcat = False  # a text classification corpus (else NER)
        self.hardness = numpy.zeros(0, dtype="float64")
        self.boost = numpy.zeros(0, dtype="float64")
        self.current_batch: List[int] = []
        # The list object of the batch just yielded: the one spaCy is about to update on.
        self.current_examples: List[Example] = []
        # Set by the callback with class rates on; the batcher logs them and,
        # where they act on sampling, multiplies its base rate by them.
        self.class_rates: Optional[ClassRates] = None
        self.epoch = 0
        # What the callback did (weights, meta losses), summarised into the epoch's
        # log line by the batcher and into each evaluation's by the stats logger.
        self.step_log = StepLog()
        # Set by the callback: records the losses of the last batch, which spaCy's
        # update has computed by the time the batcher closes the epoch.
        self.harvest: Optional[Callable[[], None]] = None
        self._index: Dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def is_bound(self) -> bool:
        return bool(self.examples)

    def bind(self, examples: Sequence[Example]) -> None:
        """Learn the corpus at the first epoch; check it is the same one afterwards."""
        if not self.is_bound:
            self._bind_first(examples)
        elif len(examples) != len(self.examples) or any(id(eg.reference) not in self._index for eg in examples):
            raise ValueError(
                "[hamr.v1] The training examples changed between epochs "
                f"({len(self.examples)} before, {len(examples)} now). HAMR keeps "
                "per-example state, so the corpus must be read once and kept in "
                "memory: use [training] max_epochs >= 0 and no augmenter that "
                "creates new examples every epoch."
            )

    def _bind_first(self, examples: Sequence[Example]) -> None:
        if not examples:
            raise ValueError("[hamr.v1] The training corpus is empty.")
        self.examples = list(examples)
        self._index = {id(eg.reference): i for i, eg in enumerate(self.examples)}
        if len(self._index) != len(self.examples):
            raise ValueError(
                "[hamr.v1] The same reference Doc appears twice in the training "
                "corpus; HAMR needs one Example per reference Doc."
            )
        references = [eg.reference for eg in self.examples]
        self.textcat = is_textcat(references)
        self.labels = corpus_labels(references)
        n = len(self.examples)
        # Uniform until the callback feeds it (reference: h initialised to 1/N).
        self.hardness = numpy.full(n, 1.0 / n)
        self.boost = numpy.zeros(n)
        # Examples moved into the meta set: the batcher never hands them to training.
        self.held_out = numpy.zeros(n, dtype=bool)
        # What the callback learns of each example, kept for the user (state_path):
        # the latest known loss (at a visit or a look-ahead pass), the weight of
        # its latest visit, and the loss of every visit, summed per epoch.
        self.last_loss = numpy.full(n, numpy.nan)
        self.last_weight = numpy.ones(n)
        self.visits = numpy.zeros(n, dtype="int64")
        # How often the batcher handed an example of each class to an update, counted
        # as it happens: the class distribution the model was trained on (logit
        # adjustment's prior). An example counts for each of its classes: the
        # columns of example i are _class_columns[_class_starts[i]:_class_starts[i + 1]].
        self.classes = sorted(label_counts(self.labels))
        column = {label: j for j, label in enumerate(self.classes)}
        self._class_columns = numpy.array([column[c] for classes in self.labels for c in classes], dtype="int64")
        self._class_starts = numpy.cumsum([0] + [len(classes) for classes in self.labels])
        self._tally = DrawTally(0, numpy.zeros(len(self.classes), dtype="int64"))
        self.epoch_losses: List[numpy.ndarray] = []
        self._epoch_sum = numpy.zeros(n)
        self._epoch_visits = numpy.zeros(n, dtype="int64")
        # Textcat: the model's view of each example at its visits, for finding
        # label errors (spacy_hamr/label_errors/training_dynamics.py): the gold label's probability
        # and margin, per epoch (mean over the epoch's visits), and the mean
        # predicted probabilities over all visits.
        self.epoch_confidence: List[numpy.ndarray] = []
        self.epoch_margin: List[numpy.ndarray] = []
        self._confidence_sum = numpy.zeros(n)
        self._margin_sum = numpy.zeros(n)
        self._predicted_visits = numpy.zeros(n, dtype="int64")
        self.score_labels: Optional[Sequence[str]] = None
        self.score_sum: Optional[numpy.ndarray] = None
        self.scored_visits = numpy.zeros(n, dtype="int64")

    @property
    def any_held_out(self) -> bool:
        return bool(self.held_out.any())

    def hold_out(self, indices: Sequence[int]) -> None:
        """Keep these examples out of training from now on.

        spaCy draws the first batch before the callback first runs, so they
        are also taken out of that batch, in place, before spaCy updates on it.
        """
        self.held_out[numpy.asarray(indices, dtype="int64")] = True
        keep = [k for k, i in enumerate(self.current_batch) if not self.held_out[i]]
        self.count_draws([i for i in self.current_batch if self.held_out[i]], -1)
        self.current_examples[:] = [self.current_examples[k] for k in keep]
        self.current_batch = [self.current_batch[k] for k in keep]

    def count_draws(self, indices: Sequence[int], sign: int = 1) -> None:
        """Count a batch handed to an update (sign -1: take back the draws of
        examples held out of it)."""
        indices = numpy.asarray(indices, dtype="int64")
        starts = self._class_starts[indices]
        lengths = self._class_starts[indices + 1] - starts
        # The class columns of every drawn example, one after the other.
        columns = self._class_columns[
            numpy.repeat(starts - (numpy.cumsum(lengths) - lengths), lengths) + numpy.arange(lengths.sum())
        ]
        per_class = self._tally.per_class.copy()
        numpy.add.at(per_class, columns, sign)
        self._tally = DrawTally(self._tally.total + sign * len(indices), per_class)

    def tally(self) -> DrawTally:
        """The draws so far, to count later draws from (`draw_shares(since=...)`)."""
        return self._tally

    def draw_shares(self, since: Optional[DrawTally] = None) -> Dict[str, float]:
        """Each class's share of the draws so far (or since the tally `since`): the
        fraction of draws whose example carries the class, for the classes drawn.
        An NER sentence with two entity types counts for both, so shares can sum
        past 1. Over all draws, it is the class distribution the model has been
        trained on."""
        total, per_class = self._tally.total, self._tally.per_class
        if since is not None:
            total, per_class = total - since.total, per_class - since.per_class
        return {c: int(k) / max(total, 1) for c, k in zip(self.classes, per_class) if k > 0}

    def trainable(self, indices: Sequence[int]) -> List[int]:
        """The positions in `indices` of examples that are not held out."""
        if not self.any_held_out:
            return list(range(len(indices)))
        return [k for k, i in enumerate(indices) if not self.held_out[i]]

    def record_visits(self, indices: numpy.ndarray, visit: "Visit") -> None:
        """The losses and predictions of one real update (NaN: not recorded). An
        example drawn twice in a batch counts twice."""
        known = numpy.isfinite(visit.losses)
        rows, values = indices[known], visit.losses[known]
        self.last_loss[rows] = values
        numpy.add.at(self.visits, rows, 1)
        numpy.add.at(self._epoch_visits, rows, 1)
        numpy.add.at(self._epoch_sum, rows, values)
        predicted = numpy.isfinite(visit.confidence)
        if not predicted.any():
            return
        rows = indices[predicted]
        numpy.add.at(self._predicted_visits, rows, 1)
        numpy.add.at(self._confidence_sum, rows, visit.confidence[predicted])
        numpy.add.at(self._margin_sum, rows, visit.margin[predicted])
        if visit.scores is not None:
            if self.score_sum is None:
                self.score_labels = list(visit.score_labels)
                self.score_sum = numpy.zeros((len(self), len(visit.score_labels)))
            scored = predicted & numpy.isfinite(visit.scores).all(axis=1)
            numpy.add.at(self.score_sum, indices[scored], visit.scores[scored])
            numpy.add.at(self.scored_visits, indices[scored], 1)

    def close_epoch(self) -> None:
        """Keep this epoch's mean loss per example (NaN where not visited)."""
        if self.harvest is not None:
            self.harvest()
        with numpy.errstate(invalid="ignore", divide="ignore"):
            self.epoch_losses.append(
                numpy.where(self._epoch_visits > 0, self._epoch_sum / self._epoch_visits, numpy.nan)
            )
            if self._predicted_visits.any() or self.epoch_confidence:
                seen = self._predicted_visits > 0
                self.epoch_confidence.append(
                    numpy.where(seen, self._confidence_sum / self._predicted_visits, numpy.nan)
                )
                self.epoch_margin.append(numpy.where(seen, self._margin_sum / self._predicted_visits, numpy.nan))
        for running in (
            self._epoch_sum,
            self._epoch_visits,
            self._confidence_sum,
            self._margin_sum,
            self._predicted_visits,
        ):
            running[:] = 0

    def index_of(self, eg: Example) -> int:
        """Stable index of an example (or of a copy made by `Language.update`)."""
        try:
            return self._index[id(eg.reference)]
        except KeyError:
            raise KeyError(f"[hamr.v1] Example not in the training corpus: {eg.reference.text[:80]!r}") from None

    def indices_of(self, batch: Sequence[Example]) -> List[int]:
        return [self.index_of(eg) for eg in batch]


_ACTIVE: Optional[HamrState] = None


def activate(state: HamrState) -> None:
    """Make `state` the one the callback of this training run will use."""
    global _ACTIVE
    _ACTIVE = state


def active_state() -> HamrState:
    """The state of the batcher that is feeding the current training run."""
    if _ACTIVE is None or not _ACTIVE.is_bound:
        raise RuntimeError(
            "[hamr.v1] The hamr.v1 callback needs the hamr.v1 batcher: set "
            '[training.batcher] @batchers = "hamr.v1" (use resample = false '
            "to train on the plain shuffled corpus)."
        )
    return _ACTIVE
