"""Train and evaluate runs x datasets x seeds through spacy-hamr's experiment
engine (spacy_hamr.engine): locally by default, on a Ray cluster with
--ray-address (or RAY_ADDRESS).

`--runs` are trained on every dataset, `--textcat-runs` / `--ner-runs` only on
that task's; `--ner-seeds` replaces `--seeds` for NER. `--epochs` takes TASK=N
and DATASET=N items, a dataset's own number before its task's
(`textcat=8 ner=8 mit_restaurant=5`).

Each run's config is the backbone's base config (from `spacy init config`)
with that run's two blocks (spacy_hamr.experiments.variants). Per run:
training/<backbone>/<dataset>/<run>_s<seed>/ (train.log, eval_log.jsonl with
every evaluation and the number of updates, model-best), and the test metrics
metrics/<backbone>/<dataset>/<run>_s<seed>.json with `train_seconds`,
`updates`, `jobs` and `epochs` added.

The ledger training/<backbone>/ledger.jsonl keeps a record of every finished
run, written as it ends: an interrupted job (Ctrl-C, a closed laptop) trains
only the runs without one when it is started again.

`--jobs N` trains N runs at once, each on cores / N threads (counting the cores
this process may use: under `taskset -c 1`, one), or `--threads` each. Runs
start longest first (training tokens x epochs); as each ends, a line gives the
time left, and while runs train a line each minute names them with their epoch.
"""

import argparse
import sys
from functools import cache
from pathlib import Path

import srsly
from spacy.vocab import Vocab
from thinc.api import Config

from spacy_hamr.corpus import read_docs
from spacy_hamr.engine import Ledger, RunFailed, RunSpec, config_text, make_executor, run_specs
from spacy_hamr.experiments.convert import is_ner, read_records
from spacy_hamr.experiments.variants import VARIANTS, variant_config
from spacy_hamr.resampling.embedders import default_model_path

TASKS = ("textcat", "ner")


def say(line: str) -> None:
    print(f"[matrix] {line}", flush=True)


@cache
def pipeline_of(dataset: str, assets: Path) -> str:
    """The dataset's task, ner or textcat, from its dev.json, read once: the plan
    and every run ask."""
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


def epochs_of(args, dataset: str, pipeline: str) -> int:
    if dataset in args.epochs:
        return args.epochs[dataset]
    if pipeline in args.epochs:
        return args.epochs[pipeline]
    raise ValueError(f"--epochs gives no number for {dataset} ({pipeline}): add {pipeline}=N or {dataset}=N")


def planned_runs(args) -> list:
    """(dataset, run, seed) of every run of the job, saying which are left out and why."""
    planned = []
    for dataset in args.datasets:
        ner = pipeline_of(dataset, args.assets) == "ner"
        epochs_of(args, dataset, "ner" if ner else "textcat")  # a missing number stops before any training
        runs = args.runs + (args.ner_runs if ner else args.textcat_runs)
        for seed in args.ner_seeds if ner and args.ner_seeds else args.seeds:
            for run in runs:
                if ner and VARIANTS[run].textcat_only:
                    say(f"{dataset} {run}: textcat only, skipped for NER")
                else:
                    planned.append((dataset, run, seed))
    return planned


@cache
def train_tokens(corpus: Path, dataset: str) -> int:
    """The tokens of a dataset's training corpus: with the epochs, what a run's time grows with."""
    return sum(len(doc) for doc in read_docs(corpus / dataset / "train.spacy", Vocab()))


def run_spec(args, dataset: str, run: str, seed: int) -> RunSpec:
    """The run's config (the backbone's base config with the run's two blocks, its epochs and
    seed), its corpora and folders."""
    pipeline = pipeline_of(dataset, args.assets)
    epochs = epochs_of(args, dataset, pipeline)
    base = Config().from_disk(args.configs / f"{pipeline}_{args.backbone}.cfg", interpolate=False)
    overrides = {"training.max_epochs": epochs, "system.seed": seed}
    if args.backbone == "trf":
        # The configs name the model; the weights are the installed offline copy.
        overrides["components.transformer.model.name"] = default_model_path()
    corpora = {split: args.corpus / dataset / f"{split}.spacy" for split in ("train", "dev", "test")}
    return RunSpec(
        name=f"{dataset} {run} seed {seed}",
        config=config_text(variant_config(base, run), overrides),
        corpora=corpora,
        output=args.training / args.backbone / dataset / f"{run}_s{seed}",
        evaluate=("test",),
        cost=train_tokens(args.corpus, dataset) * epochs,
        group=(pipeline, run),
        info={"dataset": dataset, "run": run, "seed": seed, "epochs": epochs},
    )


def write_metrics(args, spec: RunSpec, record: dict) -> None:
    """The run's test metrics file, which the report reads, from its ledger record."""
    info = spec.info
    metrics = {
        **record["metrics"]["test"],
        "train_seconds": record["train_seconds"],
        "updates": record["updates"],
        "jobs": record["jobs"],
        "epochs": record["epochs"],
    }
    path = metrics_path(args, info["dataset"], info["run"], info["seed"])
    path.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(path, metrics)


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
    parser.add_argument("--jobs", type=int, default=0, help="runs trained at once (0: one per CPU core, one per GPU)")
    parser.add_argument("--threads", type=int, default=0, help="threads per run (0: the cores shared by the jobs)")
    parser.add_argument("--gpus-per-run", type=float, default=1.0, help="share of a GPU per run, e.g. 0.25")
    parser.add_argument("--ray-address", default="", help="a Ray cluster's address, or auto (default: RAY_ADDRESS)")
    parser.add_argument("--assets", type=Path, default=Path("assets"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--configs", type=Path, default=Path("configs"))
    parser.add_argument("--training", type=Path, default=Path("training"))
    parser.add_argument("--metrics", type=Path, default=Path("metrics"))
    args = parser.parse_args()
    try:  # every setting checked before any training
        args.epochs = parse_epochs(args.epochs, args.assets)
        specs = [run_spec(args, *key) for key in planned_runs(args)]
        executor = make_executor(args.jobs, args.threads, args.gpu_id, args.gpus_per_run, args.ray_address, say)
    except ValueError as err:
        parser.error(str(err))
    for spec in specs:
        spec.info["jobs"] = executor.slots
    ledger = Ledger(args.training / args.backbone / "ledger.jsonl")
    try:
        run_specs(specs, executor, ledger, say, on_record=lambda spec, record: write_metrics(args, spec, record))
    except RunFailed as err:
        sys.exit(f"[matrix] {err.name} failed; its log: {err.log}. The runs that finished are kept in {ledger.path}.")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
