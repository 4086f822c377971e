"""One run, the same on every executor: `spacy train` on the spec's config in a
folder of its own, then `spacy evaluate` of model-best, each in a child process
with its thread count set. The children end with the process that started them
(Linux), so that a cancelled or killed worker leaves no training behind."""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import srsly
from thinc.api import Config

from ..threads import pinned_environment
from ..training.eval_log import read_eval_log
from .spec import EVAL_LOG

LOG_TAIL = 3000  # characters of a failed run's log carried in its error


class RunFailed(RuntimeError):
    """A run's `spacy train` or `spacy evaluate` exited with an error (not retried)."""

    def __init__(self, name: str, log: Path, tail: str):
        super().__init__(f"{name} failed; its log: {log}\n{tail}")
        self.name, self.log, self.tail = name, log, tail


class RunKilled(RunFailed):
    """A run's child process was killed by a signal (the kernel's OOM killer, a node going down): retried on Ray."""


class Children:
    """The child processes running now, so that they can be ended at once (Ctrl-C)."""

    def __init__(self):
        self._lock, self._running, self.stopping = threading.Lock(), set(), False

    def run(self, command: List[str], log: Path, env: Dict[str, str]) -> int:
        with self._lock:
            if self.stopping:
                raise KeyboardInterrupt
            with log.open("a", encoding="utf8") as out:
                child = subprocess.Popen([*_END_WITH_PARENT, *command], stdout=out, stderr=subprocess.STDOUT, env=env)
            self._running.add(child)
        try:
            return child.wait()
        except BaseException:
            _end(child)
            raise
        finally:
            with self._lock:
                self._running.discard(child)

    def end_all(self) -> None:
        """End every child now (SIGTERM, then SIGKILL after 5 s); no new one starts."""
        with self._lock:
            self.stopping = True
            running = list(self._running)
        for child in running:
            _end(child)


def _end(child: subprocess.Popen) -> None:
    child.terminate()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


# Starts the command so that it gets SIGKILL when the thread that started it dies (Linux's
# PR_SET_PDEATHSIG, kept across exec): a worker killed by Ray or the OS takes its training with
# it. A launcher rather than Popen's preexec_fn, which is not safe beside other threads.
_LAUNCHER = (
    "import ctypes, os, signal, sys; "
    "ctypes.CDLL(None).prctl(1, signal.SIGKILL) if sys.platform.startswith('linux') else None; "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
_END_WITH_PARENT = [sys.executable, "-c", _LAUNCHER]


def train_and_evaluate(
    spec_fields: Dict,
    corpora: Dict[str, Path],
    workdir: Path,
    gpu_id: int,
    threads: Optional[int],
    children: Children,
) -> Dict:
    """Train the spec in workdir (replaced if it exists), evaluate model-best on each of the spec's
    evaluate corpora; return {"metrics" ({corpus name: what spacy evaluate wrote}), "updates", "train_seconds", "evaluate_seconds", "started", "ended"
    (wall clock), "threads" (the children's OMP_NUM_THREADS), "host"}.
    spec_fields: RunSpec.fields."""
    name, evaluate = spec_fields["name"], spec_fields["evaluate"]
    _replace_folder(workdir)
    config_path = workdir / "config.cfg"
    config_path.write_text(spec_fields["config"], encoding="utf8")
    log = workdir / "train.log"
    env = pinned_environment(threads)
    command = [sys.executable, "-m", "spacy", "train", str(config_path), "--output", str(workdir)]
    command += ["--paths.train", str(corpora["train"]), "--paths.dev", str(corpora["dev"]), "--gpu-id", str(gpu_id)]
    command += ["--training.logger.logger2.path", str(workdir / EVAL_LOG)]
    batcher = Config().from_str(spec_fields["config"], interpolate=False)["training"].get("batcher", {})
    if batcher.get("@batchers") == "hamr.v1":  # HAMR's per-epoch statistics, for reports
        command += ["--training.batcher.log_path", str(workdir / "hamr_log.jsonl")]
    started, start = time.time(), time.perf_counter()
    _check(children.run(command, log, env), name, log)
    train_seconds = time.perf_counter() - start
    metrics = {}
    for corpus in evaluate:
        output = workdir / f"metrics_{corpus}.json"
        command = [sys.executable, "-m", "spacy", "evaluate", str(workdir / "model-best"), str(corpora[corpus])]
        _check(children.run([*command, "--output", str(output), "--gpu-id", str(gpu_id)], log, env), name, log)
        metrics[corpus] = srsly.read_json(output)
    return {
        "metrics": metrics,
        "updates": read_eval_log(workdir / EVAL_LOG)[1],
        "train_seconds": train_seconds,
        "evaluate_seconds": time.perf_counter() - start - train_seconds,
        "started": started,
        "ended": time.time(),
        "threads": env.get("OMP_NUM_THREADS"),
        "host": os.uname().nodename,
    }


def _check(returncode: int, name: str, log: Path) -> None:
    if returncode < 0:
        raise RunKilled(name, log, f"killed by signal {-returncode}")
    if returncode > 0:
        raise RunFailed(name, log, log.read_text(encoding="utf8", errors="replace")[-LOG_TAIL:])


def _replace_folder(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def last_epoch(workdir: Path) -> Optional[int]:
    """The epoch of a training's last evaluation so far, or None before its first."""
    path = workdir / EVAL_LOG
    if not path.exists():
        return None
    lines = path.read_text(encoding="utf8").splitlines()
    for line in reversed(lines):
        row = srsly.json_loads(line) if line.strip().endswith("}") else None
        if row and "epoch" in row:
            return row["epoch"]
    return None
