"""Train and evaluate runs x datasets x seeds, resumably (a finished run's
metrics file is kept and the run skipped).

Each run's config is the backbone's base config (from `spacy init config`)
with that run's two blocks (spacy_hamr.experiments.variants), written to configs/runs/.
Per run: training/<backbone>/<dataset>/<run>_s<seed>/ (with eval_log.jsonl: every
evaluation and the number of updates), and the test metrics
metrics/<backbone>/<dataset>/<run>_s<seed>.json with `train_seconds` and `updates` added.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import srsly
from thinc.api import Config

from spacy_hamr.experiments.convert import is_ner, read_records
from spacy_hamr.experiments.variants import VARIANTS, variant_config
from spacy_hamr.resampling.embedders import default_model_path
from spacy_hamr.training.eval_log import read_eval_log

HAMR_LOGGED = "hamr"  # runs whose per-epoch statistics feed the report's plots


def pipeline_of(dataset: str, assets: Path) -> str:
    return "ner" if is_ner(read_records(assets / dataset / "dev.json")[:1]) else "textcat"


def run_one(args, dataset: str, run: str, seed: int) -> None:
    pipeline = pipeline_of(dataset, args.assets)
    if pipeline == "ner" and VARIANTS[run].textcat_only:
        print(f"[matrix] {dataset} {run}: textcat only, skipped for NER", flush=True)
        return
    metrics = args.metrics / args.backbone / dataset / f"{run}_s{seed}.json"
    if metrics.exists():
        print(f"[matrix] {dataset} {run} seed {seed}: done already ({metrics})", flush=True)
        return
    base = Config().from_disk(args.configs / f"{pipeline}_{args.backbone}.cfg", interpolate=False)
    cfg_path = args.configs / "runs" / f"{pipeline}_{args.backbone}_{run}.cfg"
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    variant_config(base, run).to_disk(cfg_path)
    output = args.training / args.backbone / dataset / f"{run}_s{seed}"
    epochs = args.epochs_ner if pipeline == "ner" else args.epochs_textcat
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
    print(
        f"[matrix] {dataset} {run} seed {seed}: training ({pipeline}, {epochs} epochs): python {' '.join(cmd[1:])}",
        flush=True,
    )
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    metrics.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "evaluate",
            str(output / "model-best"),
            str(args.corpus / dataset / "test.spacy"),
            "--output",
            str(metrics),
            "--gpu-id",
            str(args.gpu_id),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    result = srsly.read_json(metrics)
    result["train_seconds"] = seconds
    result["updates"] = read_eval_log(output / "eval_log.jsonl")[1]
    srsly.write_json(metrics, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--backbone", default="cnn")
    parser.add_argument("--epochs-textcat", type=int, default=8)
    parser.add_argument("--epochs-ner", type=int, default=5)
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU for spacy train and evaluate (-1: CPU)")
    parser.add_argument("--assets", type=Path, default=Path("assets"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--configs", type=Path, default=Path("configs"))
    parser.add_argument("--training", type=Path, default=Path("training"))
    parser.add_argument("--metrics", type=Path, default=Path("metrics"))
    args = parser.parse_args()
    for dataset in args.datasets:
        for seed in args.seeds:
            for run in args.runs:
                run_one(args, dataset, run, seed)


if __name__ == "__main__":
    main()
