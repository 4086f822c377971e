"""The sampling distribution of HAMR's batcher and the draw of one epoch.

p_i is proportional to (h_i + eps) ** alpha * (1 + lambda * b_i): h is the
per-example hardness the meta-weighting callback accumulates, b the
neighbour boost in [0, 1]. Kept free of spaCy so that it can be tested (and
benchmarked at a million examples) on plain arrays.
"""

import math
from typing import Optional

import numpy

# Keeps examples with zero hardness drawable (the reference code's floor).
HARDNESS_EPS = 1e-6


def sampling_probabilities(
    hardness: numpy.ndarray,
    boost: numpy.ndarray,
    alpha: float,
    boost_weight: float,
    prior: Optional[numpy.ndarray] = None,
) -> numpy.ndarray:
    """Return p (sums to 1) over the N examples.

    hardness (numpy.ndarray): Non-negative hardness h, shape (N,).
    boost (numpy.ndarray): Neighbour boost b in [0, 1], shape (N,).
    alpha (float): Hardness exponent; 0 ignores hardness.
    boost_weight (float): lambda, how much a full boost multiplies p_i by (1 + lambda).
    prior (numpy.ndarray or None): Optional per-example base rate (class-balanced
        oversampling); multiplies the HAMR terms.
    """
    p = numpy.power(hardness.astype("float64") + HARDNESS_EPS, alpha)
    p *= 1.0 + boost_weight * boost
    if prior is not None:
        p *= prior
    total = p.sum()
    if not numpy.isfinite(total) or total <= 0:
        # Hardness fed by a diverged loss: fall back to uniform rather than crash.
        return numpy.full(len(hardness), 1.0 / len(hardness))
    return p / total


def epoch_draws(n_examples: int, oversampling: float) -> int:
    """Number of draws per epoch: ceil(oversampling * N)."""
    return int(math.ceil(oversampling * n_examples))


def draw_epoch(rng: numpy.random.Generator, p: numpy.ndarray, n_draws: int) -> numpy.ndarray:
    """Draw n_draws example indices from p, with replacement."""
    # Inverse-CDF on a cumulative sum: one O(N) pass plus a vectorised search,
    # the same as Generator.choice(p=...) but without its O(N) validity checks
    # that dominate at a million examples.
    cdf = numpy.cumsum(p)
    cdf /= cdf[-1]
    u = rng.random(n_draws)
    return numpy.minimum(numpy.searchsorted(cdf, u, side="right"), len(p) - 1)
