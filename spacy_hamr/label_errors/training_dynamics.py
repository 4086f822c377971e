"""Text classification label errors from one training run: what the model
thought of each training example at every visit.

The state file keeps, per example and epoch, the probability the model gave
the gold label when it drew the example (before updating on it) and that
probability's margin over the likeliest other label, and the mean predicted
probabilities over all visits. From them:

- the ranking: the gold label's mean probability over the epochs, lowest
  first (dataset cartography's confidence, Swayamdipta et al., 2020);
- likely label errors: a mean margin below 0, the gold label losing to
  another on average over training (AUM's rule, Pleiss et al., 2020); they
  make the per-class estimate and the from -> to table, "to" being the
  likeliest other label by the mean probabilities;
- suspects, the high-precision tier: a mean gold probability below chance,
  1 / (number of labels): the model believed the gold label less than a
  uniform guess would, over the whole run.

Measured on labels flipped in place (docs/label-errors.md), these rank as well
as cleanlab on 5-fold out-of-sample probabilities when the run draws every
example once per epoch (`resample = false`); HAMR's resampling draws the hard
examples, label errors first, several times per epoch, the model memorises
them, and the ranking falls to about half that precision.
"""

import warnings
from typing import Dict, List, NamedTuple, Sequence

import numpy


class TextcatErrors(NamedTuple):
    """Per example, in state-file row order (NaN: never drawn)."""

    confidence: numpy.ndarray  # mean probability of the gold label over the epochs
    variability: numpy.ndarray  # its standard deviation over the epochs
    margin: numpy.ndarray  # mean margin of the gold label over the likeliest other
    suggested: numpy.ndarray  # index into `labels` of the likeliest other label
    likely: numpy.ndarray  # bool: margin < 0
    suspect: numpy.ndarray  # bool: confidence < 1 / len(labels)
    labels: List[str]  # the score columns

    @property
    def score(self) -> numpy.ndarray:
        """Higher: likelier a label error (1 - confidence; never drawn: 0)."""
        return numpy.nan_to_num(1.0 - self.confidence, nan=0.0)


def has_predictions(state: Dict[str, numpy.ndarray]) -> bool:
    """True for a textcat run's state file (NER runs and older files have no predictions)."""
    return "epoch_confidence" in state and "score_mean" in state


def textcat_errors(state: Dict[str, numpy.ndarray], gold: numpy.ndarray) -> TextcatErrors:
    """gold: (N,) index of each row's gold label in state["score_labels"]."""
    confidence = numpy.asarray(state["epoch_confidence"], dtype="float64")
    margin = numpy.asarray(state["epoch_margin"], dtype="float64")
    with warnings.catch_warnings():  # an all-NaN column (never drawn) stays NaN, unwarned
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_confidence, variability = numpy.nanmean(confidence, axis=0), numpy.nanstd(confidence, axis=0)
        mean_margin = numpy.nanmean(margin, axis=0)
    others = numpy.nan_to_num(numpy.asarray(state["score_mean"], dtype="float64"), nan=-1.0)
    others[numpy.arange(len(gold)), gold] = -numpy.inf
    labels = [str(label) for label in state["score_labels"]]
    return TextcatErrors(
        mean_confidence,
        variability,
        mean_margin,
        others.argmax(axis=1),
        mean_margin < 0,
        mean_confidence < 1.0 / len(labels),
        labels,
    )


def per_class_estimate(errors: TextcatErrors, gold: numpy.ndarray) -> Dict[str, int]:
    """Likely label errors per gold class."""
    counts = numpy.bincount(gold[errors.likely], minlength=len(errors.labels))
    return {label: int(c) for label, c in zip(errors.labels, counts)}


def from_to_table(errors: TextcatErrors, gold: numpy.ndarray) -> List[Dict]:
    """Rows {from, to, count} of the likely errors, largest first."""
    pairs: Dict = {}
    for y, j in zip(gold[errors.likely].tolist(), errors.suggested[errors.likely].tolist()):
        pairs[(y, j)] = pairs.get((y, j), 0) + 1
    rows = [{"from": errors.labels[y], "to": errors.labels[j], "count": c} for (y, j), c in pairs.items()]
    return sorted(rows, key=lambda row: (-row["count"], row["from"], row["to"]))


def gold_indices(gold_labels: Sequence[str], labels: Sequence[str]) -> numpy.ndarray:
    """Each example's gold label as an index into `labels`; a label the model
    does not know is an error naming it."""
    where = {label: j for j, label in enumerate(labels)}
    unknown = sorted({g for g in gold_labels if g not in where})
    if unknown:
        raise ValueError(
            f"The corpus has labels the state file's model did not score ({', '.join(unknown)}): "
            "it was written for another training corpus or label set."
        )
    return numpy.array([where[g] for g in gold_labels], dtype="int64")
