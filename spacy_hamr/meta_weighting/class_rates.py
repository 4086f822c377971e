"""Meta-learned class rates: one log-rate per class, learned between epochs.

A single example's look-ahead hypergradient dL_meta/dw_i is small and noisy.
Summed over a class's examples it says whether the class as a whole should
count more (a negative sum: up-weighting the class lowers the meta loss) or
less. The callback adds every meta step's hypergradients to their examples'
classes; at the end of each epoch each log-rate moves against its class's sum,
measured in units of the sum's own noise,

    t_c = sum_i g_i / sqrt(sum_i g_i^2)   (i over the class's look-ahead examples)
    rho_c <- rho_c - learn_rate * clip(t_c, -3, 3),

so the step does not depend on the hypergradient's scale (inner_lr, the meta
gradient's norm), and a class whose sum is noise moves by about learn_rate.
The log-rates are then centred (their geometric mean stays 1) and bounded by
the weight clamp. They start at 0: the batcher's base rate and weight 1.

Where the rates act (`act_on`): "loss" multiplies each example's loss weight
by its class's rate (w_i = c_y r(z_i)); "sampling" multiplies the batcher's
base rate of the class at the next epoch's draw; "both" does both. An example
stands for its rarest class (for NER its rarest entity type), as in the
batcher's base rate.
"""

import math
from typing import Dict, List, Literal, Sequence

import numpy

from ..labels import primary_labels

ClassRatesMode = Literal["off", "loss", "sampling", "both"]
# A class's step is at most this many noise units: one epoch's sum over few
# examples cannot swing a rate far.
MAX_T = 3.0


class ClassRates:
    """Per-class log-rates, the epoch's class sums of the hypergradient, and where the rates act."""

    def __init__(self, labels: Sequence[List[str]], learn_rate: float, act_on: ClassRatesMode, bounds: Sequence[float]):
        primary = primary_labels(labels)
        self.classes = sorted(set(primary))
        position = {c: k for k, c in enumerate(self.classes)}
        self.class_of = numpy.array([position[c] for c in primary], dtype="int64")
        self.log_rates = numpy.zeros(len(self.classes))
        self.learn_rate = learn_rate
        self.on_loss = act_on in ("loss", "both")
        self.on_sampling = act_on in ("sampling", "both")
        self.bounds = (math.log(bounds[0]), math.log(bounds[1]))
        self._sum = numpy.zeros(len(self.classes))
        self._squares = numpy.zeros(len(self.classes))

    def accumulate(self, indices: numpy.ndarray, hypergrad: numpy.ndarray) -> None:
        """Add one meta step's dL_meta/dw_i of the examples at `indices` to their classes."""
        classes = self.class_of[indices]
        numpy.add.at(self._sum, classes, hypergrad)
        numpy.add.at(self._squares, classes, hypergrad**2)

    def end_epoch(self) -> Dict[str, float]:
        """Move the log-rates by this epoch's class sums; return the rates for the log."""
        noise = numpy.sqrt(self._squares)
        t = numpy.divide(self._sum, noise, out=numpy.zeros_like(self._sum), where=noise > 0)
        self.log_rates -= self.learn_rate * numpy.clip(t, -MAX_T, MAX_T)
        self.log_rates -= self.log_rates.mean()
        numpy.clip(self.log_rates, *self.bounds, out=self.log_rates)
        self._sum[:] = 0
        self._squares[:] = 0
        return self.rates()

    def rates(self) -> Dict[str, float]:
        return {c: float(math.exp(r)) for c, r in zip(self.classes, self.log_rates)}

    def loss_factors(self, indices: numpy.ndarray) -> numpy.ndarray:
        """c_y of the examples at `indices` (1 where the rates do not act on the loss)."""
        if not self.on_loss:
            return numpy.ones(len(indices))
        return numpy.exp(self.log_rates[self.class_of[indices]])

    def sampling_factors(self) -> numpy.ndarray:
        """Per-example factor on the batcher's base rate (1 where the rates do not act on sampling)."""
        if not self.on_sampling:
            return numpy.ones(len(self.class_of))
        return numpy.exp(self.log_rates[self.class_of])
