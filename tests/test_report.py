"""The project report's goal verdict, on hand-made summaries."""
import importlib.util

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("report", ROOT / "project" / "scripts" / "report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def summary(rows):
    """{dataset: (baseline, hamr, oversample, inverse_freq)} -> summary.json's shape."""
    runs = ("baseline", "hamr", "oversample", "inverse_freq")
    return {d: {run: {"macro_f1": f} for run, f in zip(runs, scores)} for d, scores in rows.items()}


def test_goal_met_names_the_margins_within_noise():
    verdict = report.goal_verdict(summary({
        "a": (50.0, 54.9, 52.0, 51.0), "b": (60.0, 62.0, 61.0, 60.0), "c": (70.0, 69.9, 68.0, 67.0),
        "d": (40.0, 43.0, 41.0, 40.0), "e": (30.0, 33.0, 34.0, 30.0), "f": (20.0, 23.0, 25.0, 20.0),
    }))
    assert ": met." in verdict
    assert "at or above plain on 5 of 6 (+2.6 on average)" in verdict
    assert "best static baseline on 4 of 6" in verdict
    assert "c -0.10 against plain" in verdict and "e -1.00" not in verdict


def test_goal_not_met_when_below_plain_twice():
    verdict = report.goal_verdict(summary({
        "a": (50.0, 49.0, 48.0, 48.0), "b": (60.0, 59.0, 58.0, 58.0), "c": (70.0, 75.0, 71.0, 71.0),
    }))
    assert "not met" in verdict and "at or above plain on 1 of 3" in verdict
