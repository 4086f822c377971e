"""The local executor with real `spacy train` runs: outputs where asked, resume
after an interruption, the first failure, Ctrl-C."""

import pytest
import spacy

from spacy_hamr.engine import Ledger, RunFailed, make_executor, run_specs

from .conftest import copy_inputs, interrupt_a_job, tiny_specs, trainings

pytestmark = pytest.mark.slow


def test_a_resumed_job_trains_only_the_runs_not_finished(tiny_folder, tmp_path):
    folder = copy_inputs(tiny_folder, tmp_path)
    job, ledger = tiny_specs(folder, seeds=(0, 1, 2)), Ledger(folder / "ledger.jsonl")
    records = run_specs(job, make_executor(jobs=2, threads=1, ray_address=""), ledger)
    for spec in job:
        assert {"model-best", "model-last", "train.log", "eval_log.jsonl"} <= {p.name for p in spec.output.iterdir()}
        assert records[spec.key]["updates"] == 21 and records[spec.key]["threads"] == "1"
    nlp = spacy.load(job[0].output / "model-best")
    assert nlp.pipe_names == ["textcat"]
    # seed 2 "killed mid-training": no record, a partial folder left behind
    lines = ledger.path.read_text().splitlines()
    ledger.path.write_text("\n".join(line for line in lines if job[2].key not in line) + "\n")
    job[2].staging.mkdir()
    (job[2].staging / "left-over").write_text("x")
    said = []
    again = run_specs(job, make_executor(jobs=2, threads=1, ray_address=""), ledger, say=said.append)
    assert said[0].startswith("3 runs, 2 finished already") and "1 to train" in said[0]
    assert sum(": training (" in line for line in said) == 1
    assert (
        again[job[2].key]["metrics"]["dev"]["cats_f_per_type"]
        == records[job[2].key]["metrics"]["dev"]["cats_f_per_type"]
    )
    assert not job[2].staging.exists() and len(ledger.records()) == 3


def test_the_first_failure_names_the_run_and_its_log_and_keeps_what_finished(tiny_folder, tmp_path):
    folder = copy_inputs(tiny_folder, tmp_path)
    job = tiny_specs(folder, seeds=(0, 1))
    bad = folder / "corpus" / "broken.spacy"
    bad.write_bytes(b"not a DocBin")
    job[1].corpora["dev"] = bad
    ledger = Ledger(folder / "ledger.jsonl")
    with pytest.raises(RunFailed, match="textcat seed 1 failed; its log: .*train.log") as failure:
        run_specs(job, make_executor(jobs=2, threads=1, ray_address=""), ledger)
    assert failure.value.log.exists() and failure.value.tail
    assert [r["name"] for r in ledger.records().values()] == ["textcat seed 0"]


def test_ctrl_c_stops_a_local_job_within_seconds_and_leaves_no_training(tiny_folder, tmp_path):
    folder = copy_inputs(tiny_folder, tmp_path)
    seconds = interrupt_a_job(folder, None, marker=str(folder))
    assert seconds < 10
    assert trainings(str(folder)) == []
    assert not (folder / "ledger.jsonl").exists() or Ledger(folder / "ledger.jsonl").records() == {}
