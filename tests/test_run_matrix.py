"""run_matrix's plan: runs per task, seeds per task, epochs per task or dataset."""

import argparse
import importlib.util
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import spacy
import srsly
from spacy.tokens import DocBin

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("run_matrix", ROOT / "project" / "scripts" / "run_matrix.py")
run_matrix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_matrix)


@pytest.fixture
def assets(tmp_path):
    for dataset in ("tweets", "food"):
        (tmp_path / dataset).mkdir()
    srsly.write_json(tmp_path / "tweets" / "dev.json", [{"text": "help", "label": 0, "label_text": "need"}])
    srsly.write_jsonl(tmp_path / "food" / "dev.json", [{"tokens": ["pizza"], "ner_tags": ["B-Dish"]}])
    return tmp_path


def test_epochs_per_task_and_per_dataset(assets):
    epochs = run_matrix.parse_epochs(["textcat=8", "ner=8", "food=5"], assets)
    args = argparse.Namespace(epochs=epochs)
    assert run_matrix.epochs_of(args, "tweets", "textcat") == 8
    assert run_matrix.epochs_of(args, "food", "ner") == 5
    with pytest.raises(ValueError, match="no number for food"):
        run_matrix.epochs_of(argparse.Namespace(epochs={"textcat": 8}), "food", "ner")


@pytest.mark.parametrize(
    "item,message",
    [("textcat", "TASK=N or DATASET=N"), ("ner=0", ">= 1"), ("fod=5", "'fod' is neither a task")],
)
def test_bad_epochs_are_named(assets, item, message):
    with pytest.raises(ValueError, match=message):
        run_matrix.parse_epochs([item], assets)


def test_runs_and_seeds_per_task(assets, tmp_path):
    args = argparse.Namespace(
        datasets=["tweets", "food"],
        assets=assets,
        metrics=tmp_path / "metrics",
        backbone="cnn",
        runs=["baseline", "hamr"],
        textcat_runs=["oversample", "baseline_adjusted"],
        ner_runs=["uniform_draws"],
        seeds=[0, 1, 2],
        ner_seeds=[0, 1],
        epochs={"textcat": 8, "ner": 5},
    )
    done = run_matrix.metrics_path(args, "tweets", "hamr", 2)
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    pending = run_matrix.pending_runs(args)
    textcat = [(r, s) for d, r, s in pending if d == "tweets"]
    ner = [(r, s) for d, r, s in pending if d == "food"]
    assert len(textcat) == 3 * 4 - 1 and ("hamr", 2) not in textcat
    assert sorted(ner) == sorted((r, s) for r in ("baseline", "hamr", "uniform_draws") for s in (0, 1))


def test_jobs_zero_is_one_per_core_and_one_on_a_gpu(monkeypatch):
    monkeypatch.setattr(run_matrix, "usable_cores", lambda: 4)
    assert run_matrix.resolve_jobs(0, -1) == 4 and run_matrix.resolve_jobs(0, 0) == 1
    assert run_matrix.resolve_jobs(2, -1) == 2
    with pytest.raises(ValueError, match="one run at a time"):
        run_matrix.resolve_jobs(2, 0)
    with pytest.raises(ValueError, match="not -1"):
        run_matrix.resolve_jobs(-1, -1)


def test_lines_from_runs_side_by_side_stay_whole(monkeypatch):
    class SlowConsole:  # yields between writes, as a busy pipe does, so unlocked lines would merge
        def __init__(self):
            self.text = ""

        def write(self, text):
            time.sleep(0.001)
            self.text += text

        def flush(self):
            pass

    console = SlowConsole()
    monkeypatch.setattr(run_matrix.sys, "stdout", console)
    lines = [f"[matrix] run {i}: " + "x" * 50 for i in range(40)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run_matrix.say, lines))
    assert sorted(console.text.splitlines()) == sorted(lines)


def test_jobs_zero_counts_only_the_cores_of_the_cpu_set():
    if shutil.which("taskset") is None:
        pytest.skip("taskset is not available")
    load = (
        "import importlib.util, sys; spec = importlib.util.spec_from_file_location('m', sys.argv[1]); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); print(m.resolve_jobs(0, -1))"
    )
    script = str(ROOT / "project" / "scripts" / "run_matrix.py")
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", load, script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_time_left_weighs_runs_by_their_work_and_task():
    work = {
        ("tweets", "baseline", 0): ("textcat", "baseline", 1000),
        ("tweets", "baseline", 1): ("textcat", "baseline", 1000),
        ("food", "baseline", 0): ("ner", "baseline", 1000),
        ("food", "baseline", 1): ("ner", "baseline", 3000),
        ("food", "hamr", 0): ("ner", "hamr", 1000),
    }
    clock = run_matrix.TimeLeft(work, jobs=2)
    clock.finished = {("tweets", "baseline", 0): 10.0, ("tweets", "baseline", 1): 10.0}
    # no NER run has finished: every run is priced at the textcat rate, 0.01 s per unit
    assert clock.seconds() == pytest.approx((10 + 30 + 10) / 2)
    clock.finished[("food", "baseline", 0)] = 100.0
    # NER's rate is 0.1 s per unit; the HAMR run, with no peer of its own, takes its task's
    assert clock.seconds() == pytest.approx((300 + 100) / 2)
    clock.finished[("food", "hamr", 0)] = 150.0
    clock.started[("food", "baseline", 1)] = time.perf_counter() - 100.0
    # the plain run still training has about 300 - 100 s of its 3000 units left
    assert clock.seconds() == pytest.approx(200 / 2, abs=1)


def test_runs_start_longest_first(assets, tmp_path, monkeypatch):
    args = argparse.Namespace(assets=assets, corpus=tmp_path, epochs={"textcat": 8, "ner": 5}, jobs=1)
    monkeypatch.setattr(run_matrix, "train_tokens", lambda corpus, dataset: {"tweets": 100, "food": 300}[dataset])
    started = []
    monkeypatch.setattr(run_matrix, "run_one", lambda args, *key: started.append(key))
    pending = [("tweets", "baseline", 0), ("food", "baseline", 0), ("food", "hamr", 0)]
    run_matrix.run_all(args, pending)
    assert started == [("food", "baseline", 0), ("food", "hamr", 0), ("tweets", "baseline", 0)]


def test_train_tokens_counts_the_training_corpus(tmp_path):
    nlp = spacy.blank("en")
    (tmp_path / "tweets").mkdir()
    DocBin(docs=[nlp("need water now"), nlp("help")]).to_disk(tmp_path / "tweets" / "train.spacy")
    assert run_matrix.train_tokens(tmp_path, "tweets") == 4
