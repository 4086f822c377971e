"""How the hamr.v1 callback weights a batch: one small object per `weighting`
setting, behind one interface.

`weights(indices, losses)` gives a batch's loss weights and the signal the
batcher's hardness follows, from each example's latest known loss. `learns`
says whether it needs the look-ahead's hypergradients; a weighting that learns
receives them at each meta step through `learn(losses, hypergrad, step_log)`.
A new weighting (say, one that knows the entity type) is a new class here.
"""

from typing import TYPE_CHECKING, Dict, List, Protocol, Sequence, Tuple

import numpy
from spacy.language import Language

from ..errors import CALLBACK_BLOCK
from ..labels import balanced_prior
from ..util import status
from .loss_adapters import LossBook
from .weight_net import MAX_WEIGHT, MIN_WEIGHT, WeightNet, batch_weights, make_optimizer, meta_step

if TYPE_CHECKING:
    from ..training.shared_state import StepLog

Weights = Tuple[numpy.ndarray, numpy.ndarray]  # (loss weights, hardness signal)


class WeightingStrategy(Protocol):
    """The interface every weighting here has (see above); `learn` only where `learns`."""

    learns: bool

    def weights(self, indices: numpy.ndarray, losses: numpy.ndarray) -> Weights: ...


class Unweighted:
    """Every example weighs 1 (weighting = "none", the "without meta-weighting"
    ablation); the hardness follows the loss relative to the batch's mean."""

    learns = False

    def weights(self, indices: numpy.ndarray, losses: numpy.ndarray) -> Weights:
        ratio = losses / max(float(losses.mean()), 1e-12)
        return numpy.ones(len(indices)), numpy.clip(ratio, MIN_WEIGHT, MAX_WEIGHT)


class ClassWeights(Unweighted):
    """A label -> weight table (weighting = "class_weights"). It acts inside the
    component adapters, where the class lives (an entity type's transitions);
    per example the weight stays 1 and the hardness follows the loss."""

    def __init__(self, table: Dict[str, float], nlp: Language, components: Sequence[str], book: LossBook):
        check_class_labels(table, nlp, components)
        book.class_weights = table
        listed = ", ".join(f"{label} {w:g}" for label, w in sorted(table.items()))
        status(f"[hamr] Class weights: {listed} (other labels 1)")


class InverseFrequency:
    """(N / (C n_c)) ** power of each example's (rarest) class, over the whole
    corpus (weighting = "inverse_frequency"); the hardness follows the weights."""

    learns = False

    def __init__(self, labels: Sequence[List[str]], power: float):
        self.static = inverse_frequency_weights(labels, power)

    def weights(self, indices: numpy.ndarray, losses: numpy.ndarray) -> Weights:
        weights = self.static[indices]
        return weights, weights


class MetaLearned:
    """HAMR's weight net w(z) of the z-scored loss (weighting = "meta"), one
    optimiser step along the hypergradient per meta step."""

    learns = True

    def __init__(self, seed: int, learn_rate: float, weight_decay: float, decoupled: bool):
        self.net = WeightNet(seed)
        self.optimizer = make_optimizer(self.net, learn_rate, weight_decay, decoupled=decoupled)

    def weights(self, indices: numpy.ndarray, losses: numpy.ndarray) -> Weights:
        weights = batch_weights(self.net, losses)
        return weights, weights

    def learn(self, losses: numpy.ndarray, hypergrad: numpy.ndarray, step_log: "StepLog") -> None:
        _, sample_weights = meta_step(self.net, self.optimizer, losses, hypergrad)
        step_log.add("loss_weight", zip(losses.tolist(), sample_weights.tolist()))


def inverse_frequency_weights(labels: Sequence[List[str]], power: float = 1.0) -> numpy.ndarray:
    """(N / (C n_c)) ** power of each example's (rarest) class, over the whole corpus;
    labels: each example's gold classes (`labels.corpus_labels`)."""
    prior = balanced_prior(labels, power=0.0)  # 1 / (C n_c) per example
    return (prior * len(labels)) ** power


def check_class_labels(class_weights: Dict[str, float], nlp: Language, components: Sequence[str]) -> None:
    """Refuse a class_weights label that no weighted component predicts."""
    known = sorted({label for name in components for label in nlp.get_pipe(name).labels})
    unknown = [label for label in class_weights if label not in known]
    if unknown:
        raise ValueError(
            f"{CALLBACK_BLOCK}: class_weights names {', '.join(map(repr, unknown))}, which "
            f"{', '.join(components)} does not predict. Its labels: {', '.join(known)}."
        )


def check_class_weighting(weighting: str, class_weights, power) -> List[str]:
    """Problems with the class weighting settings: each belongs to one weighting,
    and is never silently ignored."""
    problems = []
    if weighting == "class_weights" and not class_weights:
        problems.append(
            'weighting = "class_weights" needs a class_weights table, e.g. '
            'class_weights = {"rare_label": 5.0} (unlisted labels weigh 1)'
        )
    if class_weights and weighting != "class_weights":
        problems.append(f'class_weights only applies with weighting = "class_weights", not {weighting!r}')
    if power is not None and weighting != "inverse_frequency":
        problems.append(f'power only applies with weighting = "inverse_frequency", not {weighting!r}')
    if isinstance(power, (int, float)) and not 0 <= power < float("inf"):
        problems.append(f"power must be finite and >= 0, got {power}")
    bad = [
        f"{label} = {value}"
        for label, value in (class_weights or {}).items()
        if isinstance(value, (int, float)) and not (0 <= value < float("inf"))
    ]
    if bad:
        problems.append(f"class weights must be finite and >= 0, got {', '.join(bad)}")
    return problems
