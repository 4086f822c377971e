"""The project report's comparison sentence, on hand-made summaries."""

import importlib.util

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("report", ROOT / "project" / "scripts" / "report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def summary(rows):
    """{dataset: (baseline, hamr, oversample, inverse_freq)} -> summary.json's shape."""
    runs = ("baseline", "hamr", "oversample", "inverse_freq")
    return {d: {run: {"macro_f1": f} for run, f in zip(runs, scores)} for d, scores in rows.items()}


def test_comparison_counts_and_names_the_margins_within_noise():
    text = report.compare_hamr(
        summary(
            {
                "a": (50.0, 54.9, 52.0, 51.0),
                "b": (60.0, 62.0, 61.0, 60.0),
                "c": (70.0, 69.9, 68.0, 67.0),
                "d": (40.0, 43.0, 41.0, 40.0),
                "e": (30.0, 33.0, 34.0, 30.0),
                "f": (20.0, 23.0, 25.0, 20.0),
            }
        )
    )
    assert "at or above plain training on 5 of 6 datasets (+2.6 macro-F1 on average)" in text
    assert "better static baseline (class-balanced oversampling or inverse-frequency weights) on 4 of 6" in text
    assert "c -0.10 against plain" in text and "e -1.00" not in text
    assert "goal" not in text.lower() and "met" not in text.split()


def test_comparison_below_plain():
    text = report.compare_hamr(
        summary(
            {
                "a": (50.0, 49.0, 48.0, 48.0),
                "b": (60.0, 59.0, 58.0, 58.0),
                "c": (70.0, 75.0, 71.0, 71.0),
            }
        )
    )
    assert "at or above plain training on 1 of 3" in text
    assert "Margins under 1 point" not in text


def test_comparison_needs_the_four_runs():
    assert report.compare_hamr({"a": {"baseline": {"macro_f1": 1.0}, "hamr": {"macro_f1": 2.0}}}) == ""
