"""The project report's summary: paired differences against the controls, the
strongest control, and the verdict (a margin within two standard errors is a tie)."""

import importlib.util

import pytest

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("report", ROOT / "project" / "scripts" / "report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def runs(scores):
    """{run: [macro-F1 of seed 0, seed 1, ...]} -> summary.json's runs."""
    return {
        run: {
            "macro_f1": sum(per_seed) / len(per_seed),
            "macro_f1_per_seed": {str(seed): f for seed, f in enumerate(per_seed)},
        }
        for run, per_seed in scores.items()
    }


def test_hamr_is_measured_against_the_strongest_control():
    rows = runs(
        {
            "baseline": [40.0, 41.0, 42.0],
            "hamr": [50.0, 51.0, 52.5],
            "hamr_no_meta": [50.5, 50.5, 52.0],
            "oversample": [49.0, 52.0, 51.0],
            "hamr_no_boost": [60.0, 60.0, 60.0],  # an ablation, not a control
        }
    )
    result = report.hamr_against_controls(rows)
    assert set(result["against"]) == {"baseline", "hamr_no_meta", "oversample"}
    assert result["strongest_control"] == "hamr_no_meta"
    assert result["difference"] == result["against"]["hamr_no_meta"]["difference"] == pytest.approx(0.17)
    assert result["verdict"] == "tie"
    assert report.hamr_against_controls(runs({"baseline": [1.0]})) == {}


def summary(verdicts):
    rows = runs({"baseline": [40.0, 41.0], "hamr": [45.0, 46.0]})
    for run in rows.values():
        run.update(epochs=8, updates=100, minority_f1=10.0, macro_f1_std=0.5)
    return {
        dataset: {
            "task": "textcat",
            "smallest_class": "rare",
            "runs": rows,
            "hamr": {**report.hamr_against_controls(rows), "verdict": verdict},
        }
        for dataset, verdict in verdicts.items()
    }


def test_the_verdict_sentence_counts_and_names_the_datasets():
    text = report.verdict_sentence(summary({"a": "tie", "b": "ahead", "c": "tie", "d": "behind"}))
    assert text.startswith("Against its strongest control on each dataset, HAMR is ahead on 1 (b); ")
    assert "tied on 2 (a, c); behind on 1 (d) of 4 datasets" in text


def test_the_headline_table_has_a_row_per_dataset():
    lines = report.comparison_table(summary({"a": "tie", "b": "ahead"}))
    assert len(lines) == 4
    assert lines[2] == "| a | textcat | 8 | 2 | 40.5 | 45.5 | baseline (40.5) | +5.0 ± 0.0 | tie |"
