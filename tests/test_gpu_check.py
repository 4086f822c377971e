"""The prepared GPU check (benchmarks/gpu_check.sh) in its CPU dry-run mode,
so that the script cannot rot between the runs on a GPU server."""
import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_gpu_check_dry_run_times_every_config(tmp_path):
    pytest.importorskip("spacy_transformers")
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "dry-run", str(tmp_path)],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tests_log = (tmp_path / "gpu_tests.log").read_text()
    assert "skipped" in tests_log and "error" not in tests_log.lower()
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["gpu_id"] == -1 and set(report["runs"]) == {"textcat_cnn", "ner_cnn", "textcat_trf"}
    for run in report["runs"].values():
        assert run["plain_s"][0] > 0 and run["hamr_s"][0] > 0 and run["ratio_median"] > 0
        # HAMR draws 1.2 N examples per epoch where plain takes N (the transformer
        # config's padded batches hold the whole tiny corpus either way).
        assert run["updates"]["hamr"] >= run["updates"]["plain"] > 0
    assert report["runs"]["textcat_cnn"]["updates"]["hamr"] > report["runs"]["textcat_cnn"]["updates"]["plain"]
