"""Train and evaluate runs x datasets x seeds, resumably (a finished run's
metrics file is kept and the run skipped).

`--runs` are trained on every dataset, `--textcat-runs` / `--ner-runs` only on
that task's; `--ner-seeds` replaces `--seeds` for NER. `--epochs` takes TASK=N
and DATASET=N items, a dataset's own number before its task's
(`textcat=8 ner=8 mit_restaurant=5`).

Each run's config is the backbone's base config (from `spacy init config`)
with that run's two blocks (spacy_hamr.experiments.variants), written to configs/runs/.
Per run: training/<backbone>/<dataset>/<run>_s<seed>/ (with eval_log.jsonl: every
evaluation and the number of updates), and the test metrics
metrics/<backbone>/<dataset>/<run>_s<seed>.json with `train_seconds`, `updates`,
`jobs` and `epochs` added.

`--jobs N` trains N runs at once, each pinned to cores / N threads, counting
the cores this process may use (under `taskset -c 1`, one; HAMR's results do
not depend on the thread count: docs/method.md, Thread counts); each
run's output then goes to its training folder's train.log instead of the
console, and `train_seconds` is wall time shared with the other jobs.

Runs start longest first (training tokens x epochs), so that the last run does
not train alone while the other jobs idle. As each ends, a line gives the time
left (TimeLeft: the unfinished runs' tokens x epochs at their finished peers' pace).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import cache
from pathlib import Path

import srsly
from spacy.vocab import Vocab
from thinc.api import Config

from spacy_hamr.corpus import read_docs
from spacy_hamr.experiments.convert import is_ner, read_records
from spacy_hamr.experiments.metrics import spacy_evaluate
from spacy_hamr.experiments.variants import VARIANTS, variant_config
from spacy_hamr.resampling.embedders import default_model_path
from spacy_hamr.threads import pinned_environment
from spacy_hamr.training.eval_log import read_eval_log

HAMR_LOGGED = "hamr"  # runs whose per-epoch statistics feed the report's plots
TASKS = ("textcat", "ner")
_CONSOLE = threading.Lock()


def say(line: str) -> None:
    """Print one whole line: runs side by side print at once, and print() writes a line's text and newline apart."""
    with _CONSOLE:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


@cache
def pipeline_of(dataset: str, assets: Path) -> str:
    """The dataset's task, ner or textcat, from its dev.json, read once: the plan,
    the time estimate and every run ask."""
    return "ner" if is_ner(read_records(assets / dataset / "dev.json")[:1]) else "textcat"


def metrics_path(args, dataset: str, run: str, seed: int) -> Path:
    return args.metrics / args.backbone / dataset / f"{run}_s{seed}.json"


def parse_epochs(items: list, assets: Path) -> dict:
    """--epochs's TASK=N / DATASET=N items as {name: N}, naming an item that is neither."""
    epochs = {}
    for item in items:
        name, _, value = item.partition("=")
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"--epochs {item!r}: write TASK=N or DATASET=N with N a whole number of epochs, >= 1")
        if name not in TASKS and not (assets / name).is_dir():
            raise ValueError(
                f"--epochs {item!r}: {name!r} is neither a task ({', '.join(TASKS)}) nor a dataset in {assets}"
            )
        epochs[name] = int(value)
    return epochs


def usable_cores() -> int:
    """The CPU cores this process may run on: fewer than the machine's under
    `taskset` or a container's CPU set, so that jobs and threads fit those."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_jobs(jobs: int, gpu_id: int) -> int:
    """--jobs as a number of runs at once: 0 is one per usable CPU core, and one on a GPU."""
    if jobs < 0:
        raise ValueError(f"--jobs must be 0 (one per CPU core; one on a GPU) or more, not {jobs}")
    if jobs == 0:
        return 1 if gpu_id >= 0 else usable_cores()
    if jobs > 1 and gpu_id >= 0:
        raise ValueError("--jobs above 1 trains on the CPU; with --gpu-id, train one run at a time (--jobs 1)")
    return jobs


def epochs_of(args, dataset: str, pipeline: str) -> int:
    if dataset in args.epochs:
        return args.epochs[dataset]
    if pipeline in args.epochs:
        return args.epochs[pipeline]
    raise ValueError(f"--epochs gives no number for {dataset} ({pipeline}): add {pipeline}=N or {dataset}=N")


def pending_runs(args) -> list:
    """(dataset, run, seed) of every run still to train, saying why the others are left out."""
    pending = []
    for dataset in args.datasets:
        ner = pipeline_of(dataset, args.assets) == "ner"
        epochs_of(args, dataset, "ner" if ner else "textcat")  # a missing number stops before any training
        runs = args.runs + (args.ner_runs if ner else args.textcat_runs)
        for seed in args.ner_seeds if ner and args.ner_seeds else args.seeds:
            for run in runs:
                metrics = metrics_path(args, dataset, run, seed)
                if ner and VARIANTS[run].textcat_only:
                    say(f"[matrix] {dataset} {run}: textcat only, skipped for NER")
                elif metrics.exists():
                    say(f"[matrix] {dataset} {run} seed {seed}: done already ({metrics})")
                else:
                    pending.append((dataset, run, seed))
    return pending


def train_tokens(corpus: Path, dataset: str) -> int:
    """The tokens of a dataset's training corpus: with the epochs, what a run's time grows with."""
    return sum(len(doc) for doc in read_docs(corpus / dataset / "train.spacy", Vocab()))


def run_work(args, pending: list) -> dict:
    """{(dataset, run, seed): (task, run, training tokens x epochs)} for the time-left estimate."""
    work, tokens = {}, {}
    for dataset, run, seed in pending:
        if dataset not in tokens:
            pipeline = pipeline_of(dataset, args.assets)
            tokens[dataset] = (pipeline, train_tokens(args.corpus, dataset) * epochs_of(args, dataset, pipeline))
        pipeline, amount = tokens[dataset]
        work[(dataset, run, seed)] = (pipeline, run, amount)
    return work


class TimeLeft:
    """The wall time left, from what the finished runs took per unit of work.

    A run's seconds per unit are those of its finished peers: the same run on the
    same task, else any run on that task, else any run at all (a CNN NER update
    costs several times a textcat one, so a textcat run's rate alone would
    underestimate the NER runs still to come)."""

    def __init__(self, work: dict, jobs: int):
        self.work, self.jobs = work, jobs
        self.started, self.finished = {}, {}

    def start(self, key) -> None:
        self.started[key] = time.perf_counter()

    def finish(self, key) -> float:
        """Record a run's end; its seconds."""
        self.finished[key] = time.perf_counter() - self.started[key]
        return self.finished[key]

    def rate(self, task: str, run: str) -> float:
        done = [(self.work[key], seconds) for key, seconds in self.finished.items()]
        same_run = [(work, seconds) for work, seconds in done if work[:2] == (task, run)]
        same_task = [(work, seconds) for work, seconds in done if work[0] == task]
        peers = same_run or same_task or done
        return sum(seconds for _, seconds in peers) / sum(work[2] for work, _ in peers)

    def seconds(self) -> float:
        """Seconds until every run has finished: the work left, shared between the jobs."""
        now, left = time.perf_counter(), 0.0
        for key, (task, run, amount) in self.work.items():
            if key not in self.finished:
                expected = self.rate(task, run) * amount
                left += max(0.0, expected - (now - self.started[key])) if key in self.started else expected
        return left / self.jobs


def run_one(args, dataset: str, run: str, seed: int) -> None:
    pipeline = pipeline_of(dataset, args.assets)
    metrics = metrics_path(args, dataset, run, seed)
    base = Config().from_disk(args.configs / f"{pipeline}_{args.backbone}.cfg", interpolate=False)
    cfg_path = args.configs / "runs" / f"{pipeline}_{args.backbone}_{run}.cfg"
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    variant_config(base, run).to_disk(cfg_path)
    output = args.training / args.backbone / dataset / f"{run}_s{seed}"
    epochs = epochs_of(args, dataset, pipeline)
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        str(cfg_path),
        "--output",
        str(output),
        "--paths.train",
        str(args.corpus / dataset / "train.spacy"),
        "--paths.dev",
        str(args.corpus / dataset / "dev.spacy"),
        "--training.max_epochs",
        str(epochs),
        "--system.seed",
        str(seed),
        "--gpu-id",
        str(args.gpu_id),
    ]
    if args.backbone == "trf":
        # The configs name the model; the weights are the installed offline copy.
        cmd += ["--components.transformer.model.name", default_model_path()]
    # spaCy's console table, and every evaluation with the run's number of updates (eval_log.jsonl).
    cmd += [
        "--training.logger",
        json.dumps(
            {
                "@loggers": "spacy.ChainLogger.v1",
                "logger1": {"@loggers": "spacy.ConsoleLogger.v1", "progress_bar": False},
                "logger2": {"@loggers": "hamr.eval_log.v1", "path": str(output / "eval_log.jsonl")},
            }
        ),
    ]
    if run.startswith(HAMR_LOGGED):
        log = output / "hamr_log.jsonl"
        log.unlink(missing_ok=True)
        cmd += ["--training.batcher.log_path", str(log)]
    say(f"[matrix] {dataset} {run} seed {seed}: training ({pipeline}, {epochs} epochs): python {' '.join(cmd[1:])}")
    env = pinned_environment(max(1, usable_cores() // args.jobs))
    start = time.perf_counter()
    if args.jobs == 1:
        subprocess.run(cmd, check=True, env=env)
    else:  # side by side, the console would interleave the runs' tables
        output.mkdir(parents=True, exist_ok=True)
        with (output / "train.log").open("w", encoding="utf8") as log:
            if subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode != 0:
                raise RuntimeError(f"{dataset} {run} seed {seed} failed; its output: {output / 'train.log'}")
    seconds = time.perf_counter() - start
    metrics.parent.mkdir(parents=True, exist_ok=True)
    result = spacy_evaluate(
        output / "model-best", args.corpus / dataset / "test.spacy", metrics, gpu_id=args.gpu_id, env=env
    )
    result["train_seconds"] = seconds
    result["updates"] = read_eval_log(output / "eval_log.jsonl")[1]
    result["jobs"] = args.jobs
    result["epochs"] = epochs
    srsly.write_json(metrics, result)


def run_all(args, pending: list) -> None:
    """Train the pending runs, longest first and args.jobs at a time, with a line as each starts and ends."""
    work = run_work(args, pending)
    pending = sorted(pending, key=lambda key: -work[key][2])  # stable: a dataset's runs keep their order
    start, clock = time.perf_counter(), TimeLeft(work, args.jobs)

    def one(key) -> None:
        dataset, run, seed = key
        clock.start(key)
        run_one(args, dataset, run, seed)
        seconds = clock.finish(key)
        say(
            f"[matrix] {dataset} {run} seed {seed}: finished in {seconds:.0f} s; "
            f"{len(clock.finished)} of {len(pending)} runs done in {(time.perf_counter() - start) / 60:.1f} min, "
            f"about {clock.seconds() / 60:.0f} min left"
        )

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(one, key) for key in pending]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if future.exception() is not None:
                for other in futures:
                    other.cancel()  # runs already training finish; no new one starts
                raise future.exception()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--runs", nargs="+", default=[], choices=list(VARIANTS), help="runs on every dataset")
    parser.add_argument("--textcat-runs", nargs="*", default=[], choices=list(VARIANTS), help="runs on textcat only")
    parser.add_argument("--ner-runs", nargs="*", default=[], choices=list(VARIANTS), help="runs on NER only")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--ner-seeds", nargs="*", type=int, default=[], help="seeds of the NER runs (default: --seeds)")
    parser.add_argument("--backbone", default="cnn")
    parser.add_argument("--epochs", nargs="+", required=True, help="TASK=N or DATASET=N items, e.g. textcat=8 ner=5")
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU for spacy train and evaluate (-1: CPU)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once (0: one per CPU core, one on a GPU)")
    parser.add_argument("--assets", type=Path, default=Path("assets"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--configs", type=Path, default=Path("configs"))
    parser.add_argument("--training", type=Path, default=Path("training"))
    parser.add_argument("--metrics", type=Path, default=Path("metrics"))
    args = parser.parse_args()
    try:  # every setting checked before any training
        args.epochs = parse_epochs(args.epochs, args.assets)
        args.jobs = resolve_jobs(args.jobs, args.gpu_id)
        pending = pending_runs(args)
    except ValueError as err:
        parser.error(str(err))
    run_all(args, pending)


if __name__ == "__main__":
    main()
