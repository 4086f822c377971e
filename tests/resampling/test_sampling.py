"""The sampling distribution p_i ~ (h_i + eps)^alpha (1 + lambda b_i) and its draws."""

import numpy
from scipy.stats import chisquare

from spacy_hamr.resampling.sampling import HARDNESS_EPS, draw_epoch, epoch_draws, sampling_probabilities


def test_probabilities_follow_the_formula():
    h = numpy.array([0.5, 0.3, 0.15, 0.05, 0.0])
    b = numpy.array([0.0, 1.0, 0.5, 0.0, 1.0])
    p = sampling_probabilities(h, b, alpha=0.7, boost_weight=0.7)
    expected = (h + HARDNESS_EPS) ** 0.7 * (1 + 0.7 * b)
    numpy.testing.assert_allclose(p, expected / expected.sum())
    assert p[4] > 0  # zero hardness stays drawable


def test_alpha_zero_and_no_boost_is_uniform():
    p = sampling_probabilities(numpy.array([0.9, 0.1, 0.0]), numpy.zeros(3), alpha=0.0, boost_weight=0.0)
    numpy.testing.assert_allclose(p, [1 / 3] * 3)


def test_prior_multiplies_the_hamr_terms():
    h = numpy.full(4, 0.25)
    prior = numpy.array([0.1, 0.1, 0.4, 0.4])
    p = sampling_probabilities(h, numpy.zeros(4), alpha=0.7, boost_weight=0.7, prior=prior)
    numpy.testing.assert_allclose(p, prior)


def test_diverged_hardness_falls_back_to_uniform():
    p = sampling_probabilities(numpy.array([numpy.inf, 1.0]), numpy.zeros(2), 0.7, 0.7)
    numpy.testing.assert_allclose(p, [0.5, 0.5])


def test_draws_per_epoch_round_up():
    assert epoch_draws(10, 1.2) == 12
    assert epoch_draws(11, 1.2) == 14
    assert epoch_draws(3, 0.1) == 1


def test_draws_match_the_distribution():
    """Chi-square goodness of fit of 200k draws against p (would fail for a wrong p)."""
    rng = numpy.random.default_rng(1)
    h = rng.exponential(size=50)
    b = (rng.random(50) > 0.7).astype(float)
    p = sampling_probabilities(h / h.sum(), b, alpha=0.7, boost_weight=0.7)
    drawn = draw_epoch(numpy.random.default_rng(2), p, 200_000)
    observed = numpy.bincount(drawn, minlength=50)
    assert chisquare(observed, p * len(drawn)).pvalue > 1e-3
    # and a clearly different distribution is rejected by the same test
    assert chisquare(observed, numpy.full(50, len(drawn) / 50)).pvalue < 1e-6


def test_draws_are_seeded():
    p = numpy.full(100, 0.01)
    first = draw_epoch(numpy.random.default_rng(7), p, 120)
    again = draw_epoch(numpy.random.default_rng(7), p, 120)
    other = draw_epoch(numpy.random.default_rng(8), p, 120)
    assert (first == again).all() and not (first == other).all()
    assert first.min() >= 0 and first.max() < 100
