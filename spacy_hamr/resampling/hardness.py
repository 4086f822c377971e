"""How per-example weights become the hardness h that the batcher samples by.

- "global_decay" (the reference code): every step all of h decays by 0.99,
  0.01 * w_i is added at the batch's examples, a floor eps is added and h is
  renormalised. Recently seen examples dominate h.
- "visit_ema": h_i moves towards w_i only when example i is visited,
  h_i <- (1 - rate) h_i + rate w_i, starting from 1 (the mean weight); an
  example's hardness does not fade while it is not drawn.
"""

from typing import Callable, Dict, Literal

import numpy

HardnessRule = Callable[[numpy.ndarray, numpy.ndarray, numpy.ndarray], None]


def global_decay(decay: float = 0.99, eps: float = 1e-6) -> HardnessRule:
    def update(h: numpy.ndarray, indices: numpy.ndarray, weights: numpy.ndarray) -> None:
        h *= decay
        numpy.add.at(h, indices, (1.0 - decay) * weights)
        h += eps
        h /= h.sum()

    return update


def visit_ema(rate: float = 0.1) -> HardnessRule:
    started = []

    def update(h: numpy.ndarray, indices: numpy.ndarray, weights: numpy.ndarray) -> None:
        if not started:
            h[:] = 1.0  # the mean of mean-normalised weights
            started.append(True)
        h[indices] = (1.0 - rate) * h[indices] + rate * weights

    return update


HardnessName = Literal["global_decay", "visit_ema"]
HARDNESS_RULES: Dict[HardnessName, Callable[..., HardnessRule]] = {"global_decay": global_decay, "visit_ema": visit_ema}
