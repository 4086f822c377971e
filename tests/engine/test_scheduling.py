"""The engine's scheduling without training: the ledger, longest first, the first
failure, the time left, the executor's options. An in-process executor stands in
for `spacy train` here; test_local.py and test_ray.py train for real."""

import shutil
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from spacy_hamr.engine import Ledger, RunFailed, RunSpec, make_executor, run_specs
from spacy_hamr.engine.progress import TimeLeft


class InstantExecutor:
    """Runs a spec at once in the calling thread: its staging folder gets one file."""

    def __init__(self, slots=2, fail=()):
        self.slots, self.fail, self.started = slots, set(fail), []

    def describe(self):
        return "instant"

    def submit(self, spec):
        self.started.append(spec.name)
        future = Future()
        if spec.name in self.fail:
            future.set_exception(RunFailed(spec.name, spec.staging / "train.log", "boom"))
        else:
            spec.staging.mkdir(parents=True, exist_ok=True)
            (spec.staging / "model").write_text(spec.name)
            future.set_result({"metrics": {"score": len(spec.name)}, "updates": 3, "train_seconds": 0.0})
        return future

    def collect(self, spec, value):
        return value

    def epoch(self, spec):
        return None

    def cancel(self):
        pass

    def close(self):
        pass


def specs(folder: Path, costs):
    (folder / "train.spacy").write_bytes(b"train")
    (folder / "dev.spacy").write_bytes(b"dev")
    return [
        RunSpec(
            name=f"run {i}",
            config=f"[system]\nseed = {i}\n",
            corpora={"train": folder / "train.spacy", "dev": folder / "dev.spacy"},
            output=folder / "runs" / f"run{i}",
            cost=cost,
            info={"i": i},
        )
        for i, cost in enumerate(costs)
    ]


def test_runs_start_longest_first_and_finished_runs_are_not_trained_again(tmp_path):
    job, ledger = specs(tmp_path, [1, 5, 3]), Ledger(tmp_path / "ledger.jsonl")
    executor = InstantExecutor()
    records = run_specs(job, executor, ledger, say=lambda line: None)
    assert executor.started == ["run 1", "run 2", "run 0"]
    assert sorted(r["i"] for r in records.values()) == [0, 1, 2]
    assert (tmp_path / "runs" / "run1" / "model").read_text() == "run 1"
    assert not any(p.name.endswith(".partial") for p in (tmp_path / "runs").iterdir())
    again = InstantExecutor()
    seen = []
    assert run_specs(job, again, ledger, say=lambda line: None, on_record=lambda s, r: seen.append(s.name)) == records
    assert again.started == [] and sorted(seen) == ["run 0", "run 1", "run 2"]


def test_the_key_is_what_makes_a_run_not_where_its_files_lie(tmp_path):
    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir(), other.mkdir()
    a, b = specs(one, [1])[0], specs(other, [1])[0]
    assert a.key == b.key
    (other / "train.spacy").write_bytes(b"other train")
    assert specs(other, [1])[0].key == a.key  # specs() wrote the same bytes again
    (other / "train.spacy").write_bytes(b"changed")
    changed = RunSpec(name="x", config=a.config, corpora=dict(b.corpora), output=b.output)
    assert changed.key != a.key


def test_the_first_failure_stops_scheduling_and_keeps_what_finished(tmp_path):
    job, ledger = specs(tmp_path, [5, 4, 3, 2]), Ledger(tmp_path / "ledger.jsonl")
    executor = InstantExecutor(slots=1, fail={"run 1"})
    lines = []
    with pytest.raises(RunFailed, match="run 1"):
        run_specs(job, executor, ledger, say=lines.append)
    assert executor.started == ["run 0", "run 1"]
    assert [r["name"] for r in ledger.records().values()] == ["run 0"]
    assert any("run 1: FAILED; its log:" in line for line in lines)


def test_a_record_cut_short_is_ignored_and_the_next_starts_on_its_own_line(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append({"key": "a", "score": 1})
    with ledger.path.open("a") as file:
        file.write('{"key": "b", "sco')
    with pytest.warns(UserWarning, match="line 2: not a whole record"):
        assert list(ledger.records()) == ["a"]
    ledger.append({"key": "c", "score": 3})
    with pytest.warns(UserWarning):
        assert list(ledger.records()) == ["a", "c"]


def test_a_spec_names_a_missing_corpus(tmp_path):
    with pytest.raises(ValueError, match="the dev corpus .* does not exist"):
        RunSpec(name="x", config="", corpora={"train": __file__, "dev": tmp_path / "no.spacy"}, output=tmp_path)


def test_time_left_weighs_runs_by_their_cost_and_group():
    work = {
        "t0": (("textcat", "baseline"), 1000),
        "t1": (("textcat", "baseline"), 1000),
        "n0": (("ner", "baseline"), 1000),
        "n1": (("ner", "baseline"), 3000),
        "h0": (("ner", "hamr"), 1000),
    }
    clock = TimeLeft(work, slots=2)
    assert clock.seconds() is None
    clock.finished = {"t0": 10.0, "t1": 10.0}
    # no NER run has finished: every run is priced at the textcat rate, 0.01 s per unit
    assert clock.seconds() == pytest.approx((10 + 30 + 10) / 2)
    clock.finished["n0"] = 100.0
    # NER's rate is 0.1 s per unit; the HAMR run, with no peer of its own, takes its task's
    assert clock.seconds() == pytest.approx((300 + 100) / 2)
    clock.finished["h0"] = 150.0
    clock.started["n1"] = time.perf_counter() - 100.0
    # the plain run still training has about 300 - 100 s of its 3000 units left
    assert clock.seconds() == pytest.approx(200 / 2, abs=1)


def test_executor_options_are_checked(monkeypatch):
    from spacy_hamr.engine import options

    monkeypatch.setattr(options, "usable_cores", lambda: 4)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    local = make_executor(jobs=0)
    assert (local.slots, local.threads) == (4, 1)
    assert make_executor(jobs=2).threads == 2
    assert make_executor(jobs=0, gpu_id=0).slots == 1
    assert make_executor(jobs=0, gpu_id=0, gpus_per_run=0.25).slots == 4
    with pytest.raises(ValueError, match="at most 2 runs share it"):
        make_executor(jobs=3, gpu_id=0, gpus_per_run=0.5)
    with pytest.raises(ValueError, match="--jobs must be 0"):
        make_executor(jobs=-1)
    with pytest.raises(ValueError, match="--gpus-per-run must be"):
        make_executor(gpus_per_run=0)


def test_jobs_zero_counts_only_the_cores_of_the_cpu_set():
    if shutil.which("taskset") is None:
        pytest.skip("taskset is not available")
    code = "from spacy_hamr.engine import make_executor; print(make_executor(jobs=0, ray_address='').slots)"
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_the_engine_needs_ray_only_for_a_cluster():
    code = (
        "import sys\n"
        "sys.modules['ray'] = None  # as if Ray were not installed\n"
        "from spacy_hamr.engine import make_executor\n"
        "print(make_executor(jobs=1, ray_address='').describe())\n"
        "try:\n"
        "    make_executor(ray_address='auto')\n"
        "except ValueError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("local: 1 run(s) at a time on the CPU")
    assert "needs Ray" in out.stdout and "pip install 'spacy-hamr[ray]'" in out.stdout
