"""Paired differences over seeds: the mean, its standard error, and the verdict."""

import math

from spacy_hamr.experiments.paired import paired_difference


def by_seed(*scores):
    return {str(seed): f for seed, f in enumerate(scores)}


def test_paired_difference_and_its_standard_error():
    result = paired_difference(by_seed(50.0, 52.0, 57.0), by_seed(49.0, 50.0, 53.0))
    # Differences 1, 2, 4: mean 7/3, sample std sqrt(7/3), standard error sqrt(7/9).
    assert result["difference"] == round(7 / 3, 2)
    assert result["se"] == round(math.sqrt(7 / 9), 2)
    assert result["seeds"] == 3 and result["verdict"] == "ahead"  # 2.33 > 2 x 0.88


def test_a_margin_within_two_standard_errors_is_a_tie():
    # Differences 1 and 4: mean 2.5, standard error 1.5; 2.5 < 3.0.
    assert paired_difference(by_seed(50.0, 55.0), by_seed(49.0, 51.0))["verdict"] == "tie"
    # Differences -2 and -3: mean -2.5, standard error 0.5.
    assert paired_difference(by_seed(48.0, 49.0), by_seed(50.0, 52.0))["verdict"] == "behind"


def test_only_shared_seeds_are_paired():
    result = paired_difference(by_seed(50.0, 52.0, 90.0), by_seed(49.0, 50.0))
    assert result["seeds"] == 2 and result["difference"] == 1.5
    one = paired_difference(by_seed(50.0), by_seed(49.0))
    assert one["se"] is None and one["verdict"] == "one seed"
    assert paired_difference(by_seed(50.0), {})["verdict"] == "no shared seed"
