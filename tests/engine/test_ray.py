"""The Ray executor against a real cluster started with `ray start --head
--num-cpus 2` and reached by its address: a textcat and an NER job, at most 2
tasks at once with one thread each; the same model as the local executor's; a
worker killed mid-training; Ctrl-C. Skipped without Ray (`spacy-hamr[ray]`)."""

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import srsly

from spacy_hamr.engine import Ledger, make_executor, run_specs

from .conftest import copy_inputs, interrupt_a_job, tiny_specs, trainings, wait_for

pytest.importorskip("ray")
pytestmark = pytest.mark.slow
TASK_FOLDER = "hamr-run-"  # in the command line of every training a Ray task starts


def ray_command(*args) -> str:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    ray = str(Path(sys.executable).with_name("ray"))
    return subprocess.run([ray, *args], capture_output=True, text=True, env=env, check=True).stdout


@pytest.fixture(scope="module")
def cluster_address():
    out = ray_command("start", "--head", "--num-cpus", "2", "--port", "0", "--include-dashboard", "false")
    address = re.search(r"ray start --address='([^']+)'", out).group(1)
    yield address
    ray_command("stop", "--force")


@pytest.fixture(scope="module")
def job_on_ray(cluster_address, tiny_folder, tmp_path_factory):
    folder = copy_inputs(tiny_folder, tmp_path_factory.mktemp("ray_job"))
    job = tiny_specs(folder, "textcat", seeds=(0, 1)) + tiny_specs(folder, "ner", seeds=(0,))
    said = []
    executor = make_executor(threads=1, ray_address=cluster_address, say=said.append)
    records = run_specs(job, executor, Ledger(folder / "ledger.jsonl"), say=said.append)
    return job, records, said


def test_a_textcat_and_an_ner_job_train_on_the_cluster_two_at_a_time_one_thread_each(job_on_ray, cluster_address):
    job, records, said = job_on_ray
    assert said[0] == f"Ray cluster at {cluster_address}: 1 node(s), 2 CPUs, 0 GPUs"
    assert "ray: 2 run(s) at a time, 1 CPU(s) each" in said[1]
    for spec in job:
        record = records[spec.key]
        assert record["threads"] == "1" and record["updates"] == 21
        assert {"model-best", "model-last", "train.log", "eval_log.jsonl"} <= {p.name for p in spec.output.iterdir()}
    intervals = sorted((r["started"], r["ended"]) for r in records.values())
    at_once = max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)
    assert at_once <= 2
    assert records[job[2].key]["metrics"]["dev"]["ents_per_type"]


def test_a_model_trained_on_ray_is_the_local_executors_byte_for_byte(job_on_ray, tmp_path):
    job, _, _ = job_on_ray
    local = tiny_specs(copy_inputs(job[0].output.parents[1], tmp_path), "textcat", seeds=(0,))
    assert local[0].key == job[0].key
    run_specs(local, make_executor(jobs=1, threads=1, ray_address=""), Ledger(tmp_path / "ledger.jsonl"))
    ray_model, local_model = job[0].output / "model-best", local[0].output / "model-best"
    files = sorted(p.relative_to(ray_model) for p in ray_model.rglob("*") if p.is_file())
    weights = [f for f in files if f.name == "model"]
    assert weights
    for name in files:
        if name.name not in ("config.cfg", "meta.json"):  # the corpus paths, and the speed measured
            assert (ray_model / name).read_bytes() == (local_model / name).read_bytes(), name


def test_a_worker_killed_mid_training_is_retried_and_recorded_once(cluster_address, tiny_folder, tmp_path):
    folder = copy_inputs(tiny_folder, tmp_path)
    job = tiny_specs(folder, seeds=(7,), steps=600)
    ledger = Ledger(folder / "ledger.jsonl")
    executor = make_executor(threads=1, ray_address=cluster_address)
    result = {}
    driver = threading.Thread(target=lambda: result.update(run_specs(job, executor, ledger)))
    driver.start()
    first = wait_for(lambda: trainings(TASK_FOLDER), 120, "the training on the cluster")[0]
    worker = int(subprocess.run(["ps", "-o", "ppid=", "-p", str(first)], capture_output=True, text=True).stdout)
    os.kill(worker, signal.SIGKILL)
    retried = wait_for(lambda: [pid for pid in trainings(TASK_FOLDER) if pid != first], 120, "the retried training")
    assert first not in trainings(TASK_FOLDER) and retried
    driver.join(timeout=300)
    assert list(result) == [job[0].key]
    assert list(ledger.records()) == [job[0].key] and len(ledger.path.read_text().splitlines()) == 1
    assert (job[0].output / "model-best").is_dir()


def test_ctrl_c_stops_a_ray_job_within_seconds_and_leaves_no_training(cluster_address, tiny_folder, tmp_path):
    folder = copy_inputs(tiny_folder, tmp_path)
    seconds = interrupt_a_job(folder, cluster_address, marker=TASK_FOLDER)
    assert seconds < 10
    assert trainings(TASK_FOLDER) == []


def test_an_audit_on_the_cluster_ranks_as_one_fold_at_a_time_here(cluster_address, tiny_folder, tmp_path):
    from spacy.cli import app
    from typer.testing import CliRunner

    from spacy_hamr.cli import hamr_cli  # noqa: F401 (registers the command)

    from ..label_errors.test_report import flipped_corpus

    corpus = tiny_folder / "corpus" / "textcat"
    flipped_corpus(tmp_path / "train.spacy")
    common = [str(tiny_folder / "textcat.cfg"), str(tmp_path / "train.spacy"), "--folds", "2", "--threads", "1"]
    common += ["--paths.dev", str(corpus / "dev.spacy"), "--training.max_steps", "20"]
    for where, option in (("here", ["--jobs", "1"]), ("ray", ["--ray-address", cluster_address])):
        result = CliRunner().invoke(app, ["hamr", "find-label-errors", *common, "-o", str(tmp_path / where), *option])
        assert result.exit_code == 0, result.output
    assert "Ray cluster at" in result.output
    on_ray = list(srsly.read_jsonl(tmp_path / "ray" / "label_errors.jsonl"))
    assert on_ray and on_ray == list(srsly.read_jsonl(tmp_path / "here" / "label_errors.jsonl"))
