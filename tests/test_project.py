"""The project's `smoke` workflow end to end, from a temporary copy of project/."""

import shutil
import subprocess
import sys

import pytest
import srsly

from .conftest import ROOT, datasets_dir

pytestmark = pytest.mark.slow

GENERATED = ("assets", "corpus", "training", "metrics", "smoke", "project.lock")


def spacy_project(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "spacy", "project", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result.stdout


def test_copy_assets_without_a_folder_says_what_to_set(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "project", project, ignore=shutil.ignore_patterns(*GENERATED))
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "project", "run", "copy-assets", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "--vars.local_datasets /path/to/datasets" in result.stdout + result.stderr


def test_smoke_workflow(tmp_path):
    if not (datasets_dir() / "cyclone_idai_2019").exists():
        pytest.skip("real datasets not found")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "project", project, ignore=shutil.ignore_patterns(*GENERATED))
    spacy_project("run", "copy-assets", ".", "--vars.local_datasets", str(datasets_dir()), cwd=project)
    # Two trainings at a time: each run's output goes to its train.log, and a line as each ends.
    out = spacy_project("run", "smoke", ".", "--vars.gpu_id", "-1", "--vars.jobs", "2", cwd=project)
    trained = [line for line in out.splitlines() if line.startswith("[matrix]") and ": training (" in line]
    assert len(trained) == 16 and "local: 2 run(s) at a time on the CPU, 1 thread(s) each" in out
    assert "16 of 16 runs done" in out
    # The gpu_id var reaches every spacy train command (2 datasets x 8 runs).
    logs = list((project / "smoke" / "training").rglob("train.log"))
    assert len(logs) == 16 and all("Using CPU" in log.read_text() for log in logs)
    metrics = list((project / "smoke" / "metrics").rglob("*.json"))
    assert len(metrics) == 16 and all(srsly.read_json(path)["jobs"] == 2 for path in metrics)
    summary = srsly.read_json(project / "smoke" / "results" / "summary.json")
    assert set(summary) == {"cyclone_idai_2019", "mit_restaurant"}
    assert summary["cyclone_idai_2019"]["task"] == "textcat" and summary["mit_restaurant"]["task"] == "ner"
    for dataset in summary.values():
        runs = dataset["runs"]
        assert {
            "baseline",
            "hamr",
            "oversample",
            "inverse_freq",
            "hamr_no_resample",
            "hamr_no_meta",
            "hamr_no_boost",
        } <= set(runs)
        for row in runs.values():
            assert set(row) == {
                "macro_f1",
                "macro_f1_std",
                "minority_f1",
                "seeds",
                "macro_f1_per_seed",
                "epochs",
                "updates",
                "train_seconds",
            }
            assert 0.0 <= row["macro_f1"] <= 100.0 and row["seeds"] == 1 and row["updates"] > 0
            assert row["epochs"] == 1 and set(row["macro_f1_per_seed"]) == {"0"}
        # HAMR draws 1.2 N examples an epoch where the plain config takes N; the report counts both.
        assert runs["hamr"]["updates"] > runs["baseline"]["updates"]
        # One seed: HAMR against every control, without a standard error.
        assert dataset["hamr"]["strongest_control"] in runs and dataset["hamr"]["verdict"] == "one seed"
    text = (project / "smoke" / "results" / "summary.md").read_text()
    assert "Epochs and updates (optimizer steps) per run" in text and "paper HAMR" in text
    assert "HAMR against its strongest control" in text
    for plot in ("per_class_f1.png", "weight_vs_loss.png", "sampling_share.png"):
        assert (project / "smoke" / "results" / plot).stat().st_size > 10_000
