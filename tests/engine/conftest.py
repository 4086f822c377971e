"""Tiny jobs for the engine's tests: a `spacy init config` textcat or NER
pipeline on generated corpora, a few updates a run."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from spacy_hamr.engine import RunSpec, config_text

from ..conftest import generated_corpus
from ..training.test_train_cli import init_config

# `ray start` in a non-interactive shell reports usage statistics unless told not to.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def tiny_specs(folder: Path, task: str = "textcat", seeds=(0, 1, 2), steps: int = 20, evaluate=True) -> List[RunSpec]:
    """One run per seed; model-best is scored on dev."""
    corpus = folder / "corpus" / task
    if not (corpus / "dev.spacy").exists():
        generated_corpus(corpus, task)
    config = folder / f"{task}.cfg"
    if not config.exists():
        init_config(folder, task, config.name)
    return [
        RunSpec(
            name=f"{task} seed {seed}",
            config=config_text(
                config,
                {
                    "system.seed": seed,
                    "training.max_steps": steps,
                    "training.eval_frequency": 10,
                    "training.patience": 0,
                },
            ),
            corpora={"train": corpus / "train.spacy", "dev": corpus / "dev.spacy"},
            output=folder / "runs" / f"{task}_s{seed}",
            evaluate=("dev",) if evaluate else (),
            cost=steps,
            group=(task, "plain"),
            info={"seed": seed},
        )
        for seed in seeds
    ]


def trainings(marker: str) -> List[int]:
    """PIDs of the `spacy train` processes whose command line holds marker."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split(None, 1)[0]) for line in out.splitlines() if "spacy train" in line and marker in line]


def wait_for(condition, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


DRIVER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.engine.conftest import tiny_specs
from spacy_hamr.engine import Ledger, make_executor, run_specs
folder = Path({folder!r})
specs = tiny_specs(folder, seeds=range(4), steps=100000)
executor = make_executor(jobs=2, threads=1, ray_address={address!r})
try:
    run_specs(specs, executor, Ledger(folder / "ledger.jsonl"), heartbeat=5)
except KeyboardInterrupt:
    sys.exit(130)
"""


def interrupt_a_job(folder: Path, address, marker: str) -> float:
    """Start a job of long runs in its own process group, send SIGINT to the group (what a
    terminal's Ctrl-C sends) once two runs train; the seconds it took to exit."""
    root = str(Path(__file__).resolve().parents[2])
    script = folder / "driver.py"
    script.write_text(DRIVER.format(root=root, folder=str(folder), address=address))
    job = subprocess.Popen([sys.executable, str(script)], start_new_session=True, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(trainings(marker)) >= 2, 120, "two trainings running")
        time.sleep(2)
        sent = time.monotonic()
        os.killpg(job.pid, 2)
        job.wait(timeout=30)
        return time.monotonic() - sent
    finally:
        if job.poll() is None:
            os.killpg(job.pid, 9)
        print(job.stdout.read())


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """Base configs and corpora made once for the session's tests (each copies what it needs)."""
    folder = tmp_path_factory.mktemp("engine")
    for task in ("textcat", "ner"):
        tiny_specs(folder, task, seeds=[0])
    return folder


def copy_inputs(source: Path, folder: Path) -> Path:
    for item in ("corpus", "textcat.cfg", "ner.cfg"):
        if (source / item).is_dir():
            shutil.copytree(source / item, folder / item)
        elif (source / item).exists():
            shutil.copy(source / item, folder / item)
    return folder
