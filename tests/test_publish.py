"""The README and docs/results.md show what project/results/summary.json says."""

import importlib.util
import subprocess
import sys

import pytest
import srsly

from .conftest import ROOT

SCRIPTS = ROOT / "project" / "scripts"
sys.path.insert(0, str(SCRIPTS))  # publish.py imports report.py beside it
spec = importlib.util.spec_from_file_location("publish", SCRIPTS / "publish.py")
publish = importlib.util.module_from_spec(spec)
spec.loader.exec_module(publish)


def test_the_readme_and_results_page_show_the_committed_summary():
    result = subprocess.run(
        [sys.executable, SCRIPTS / "publish.py", "--check"],
        cwd=ROOT / "project",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_a_table_that_differs_is_named_and_rewritten(tmp_path):
    seeds = {"0": 40.0, "1": 42.0}
    row = {"macro_f1": 41.0, "macro_f1_std": 1.0, "minority_f1": 5.0, "epochs": 8, "updates": 90}
    runs = {
        "baseline": {**row, "macro_f1_per_seed": seeds},
        "hamr": {**row, "macro_f1": 44.0, "macro_f1_per_seed": {"0": 43.0, "1": 45.0}},
    }
    hamr = {"against": {}, "strongest_control": "baseline", "difference": 3.0, "se": 0.0, "seeds": 2}
    summary = {
        "tweets": {"task": "textcat", "smallest_class": "rare", "runs": runs, "hamr": {**hamr, "verdict": "ahead"}}
    }
    srsly.write_json(tmp_path / "summary.json", summary)
    (tmp_path / "docs").mkdir()
    for path in (tmp_path / "README.md", tmp_path / "docs" / "results.md"):
        path.write_text(f"# title\n\n{publish.START}\n| old | table |\n{publish.END}\n\nafter\n")
    args = [sys.executable, SCRIPTS / "publish.py", "--repository", tmp_path, "--summary", tmp_path / "summary.json"]
    check = subprocess.run([*args, "--check"], cwd=ROOT / "project", capture_output=True, text=True)
    assert check.returncode == 1 and "README.md" in check.stderr and "results.md" in check.stderr
    assert "| old | table |" in (tmp_path / "README.md").read_text()
    subprocess.run(args, cwd=ROOT / "project", check=True, capture_output=True)
    readme = (tmp_path / "README.md").read_text()
    assert "| old | table |" not in readme and readme.endswith(f"{publish.END}\n\nafter\n")
    assert "| tweets | textcat | 8 | 2 | 41.0 | 44.0 | baseline (41.0) | +3.0 ± 0.0 | ahead |" in readme
    assert subprocess.run([*args, "--check"], cwd=ROOT / "project").returncode == 0


def test_markers_missing_are_named():
    with pytest.raises(ValueError, match="README.md needs one line"):
        publish.with_block("no markers", "| table |", "README.md")
