"""Test (and dev) macro-F1 and smallest-class F1 of HAMR against baselines, several seeds.

    python benchmarks/quality.py --dataset cyclone_idai_2019 --pipeline textcat \
        --epochs 8 --seeds 0 1 2 --variants baseline oversample hamr --out results/quality_idai.json

Each variant is the config `spacy init config -p PIPELINE -o efficiency` makes
(or `--config`'s, e.g. project/configs/textcat_trf.cfg, its transformer the offline
all-MiniLM-L6-v2), with only [training.batcher] / [training.before_update] changed
(spacy_hamr.experiments.variants.VARIANTS; "baseline" is the plain config);
trained with `python -m spacy train`, model-best evaluated on test and dev.
`--set` adds settings to the variants' blocks and `--name` stores the arm under
another name (one variant with several settings); `--override KEY=VALUE` passes
settings of other blocks to `spacy train` (every arm alike). `--threads` pins
every run to that many threads. Each row has the run's number of updates (the
hamr.eval_log.v1 logger counts them), per-class F1 and the dev curve; a run with
HAMR's batcher also has the weights' p10/p90 and the hypergradient's RMS per epoch
(`weights_per_epoch`, from the batcher's log).

A run whose arm and seed are already in --out is not trained again, so an
interrupted list of runs resumes where it stopped. Where --out keeps its arms
under "arms" (beside a plan written before the runs), new runs go there too.

`--summarise ARM` prints each arm's means over its seeds and ARM minus every
other arm, paired by seed with its standard error, from --out alone (a file this
script wrote, or one that keeps such arms under "arms" beside its plan):

    python benchmarks/quality.py --out benchmarks/results/transformer_cyclone_idai_2019.json \
        --summarise hamr_metalr3e-3
"""

import argparse
import json
import time
from pathlib import Path
from statistics import mean, pstdev
from typing import Optional

import srsly

from common import (
    DEFAULT_DATA,
    block_settings,
    corpus_paths,
    dataset_corpus,
    make_config,
    spacy_train,
    train_overrides,
)
from spacy_hamr.experiments.metrics import corpus_class_counts, macro_f1, per_class_f1, smallest_class, spacy_evaluate
from spacy_hamr.experiments.paired import paired_difference
from spacy_hamr.experiments.variants import VARIANTS
from spacy_hamr.threads import pinned_environment
from spacy_hamr.training.eval_log import read_eval_log


def scores(metrics: dict, minority: str, prefix: str = "") -> dict:
    return {
        f"{prefix}macro_f1": macro_f1(metrics),
        f"{prefix}minority_f1": per_class_f1(metrics).get(minority, 0.0),
        f"{prefix}per_class_f1": per_class_f1(metrics),
    }


WEIGHT_STATS = ("epoch", "weight_p10", "weight_p90", "hypergrad_rms", "meta_steps", "meta_skipped")


def weights_per_epoch(hamr_log: Path) -> list:
    """The weights' spread and the hypergradient's RMS per epoch, from the batcher's log."""
    return [{key: line.get(key) for key in WEIGHT_STATS} for line in srsly.read_jsonl(hamr_log)]


def summarise(arms: dict, against: Optional[str] = None) -> None:
    """Each arm's mean test and dev macro-F1 and smallest-class F1 over its seeds and,
    with `against`, that arm minus each other one, paired by seed."""
    if against is not None and against not in arms:
        raise SystemExit(f"--summarise {against}: no such arm; the file has {', '.join(arms)}")
    for arm, by_seed in arms.items():
        rows = list(by_seed.values())
        test = [r["macro_f1"] for r in rows]
        line = (
            f"{arm:18s} test {mean(test):5.1f} ± {pstdev(test):.1f}"
            f"  dev {mean(r.get('dev_macro_f1', float('nan')) for r in rows):5.1f}"
            f"  smallest class {mean(r['minority_f1'] for r in rows):5.1f}  n={len(rows)}"
        )
        if against is not None and arm != against:
            paired = paired_difference(
                {s: r["macro_f1"] for s, r in arms[against].items()}, {s: r["macro_f1"] for s, r in by_seed.items()}
            )
            if paired["seeds"]:
                line += f"  {against} minus this {paired['difference']:+.1f} (SE {paired['se']}, {paired['verdict']})"
        print(line)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset")
    parser.add_argument("--pipeline", default="textcat")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["baseline", "oversample", "hamr"], choices=list(VARIANTS))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_bench"))
    parser.add_argument("--set", nargs="*", default=[], help="extra settings: batcher.KEY=JSON or callback.KEY=JSON")
    parser.add_argument("--name", help="store the (single) variant under this name")
    parser.add_argument("--config", type=Path, help="base config (default: spacy init config's efficiency config)")
    parser.add_argument("--override", nargs="*", default=[], help="spacy train settings for every arm: KEY=VALUE")
    parser.add_argument("--threads", type=int, help="OMP/MKL/OpenBLAS threads of every run (default: the library's)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--summarise", metavar="ARM", help="print the paired summary of --out against ARM and stop")
    args = parser.parse_args()
    if args.summarise:
        results = srsly.read_json(args.out)
        return summarise(results.get("arms", results), args.summarise)
    if not args.dataset:
        parser.error("--dataset is needed to train")

    extra = block_settings(args.set)
    overrides = train_overrides(args.override)
    env = pinned_environment(args.threads)
    work = args.work / args.dataset
    corpus = dataset_corpus(args.data / args.dataset, work)
    minority = smallest_class(corpus_class_counts(corpus / "train.spacy"))
    results = srsly.read_json(args.out) if args.out.exists() else {}
    # A file written down before its runs keeps its plan beside the arms, under "arms".
    arms = results["arms"] if "arms" in results else results
    if args.name and len(args.variants) != 1:
        parser.error("--name stores one variant: give a single --variants")
    for variant in args.variants:
        arm = args.name or variant
        cfg = make_config(work, args.pipeline, variant, extra, arm, args.config)
        for seed in args.seeds:
            if str(seed) in arms.get(arm, {}):
                print(f"{arm} seed {seed}: already in {args.out}, not trained again", flush=True)
                continue
            out = work / f"{arm}_s{seed}"
            log = out.parent / f"{arm}_s{seed}_log.jsonl"
            logger = json.dumps({"@loggers": "hamr.eval_log.v1", "path": str(log)})
            # HAMR's batcher logs each epoch's draws (class shares) beside the run.
            hamr_log = (
                []
                if VARIANTS[variant].batcher.get("@batchers") != "hamr.v1"
                else ["--training.batcher.log_path", out.parent / f"{arm}_s{seed}_hamr.jsonl"]
            )
            for path in hamr_log[1:]:
                path.unlink(missing_ok=True)
            start = time.perf_counter()
            spacy_train(
                cfg,
                out,
                {
                    **corpus_paths(corpus),
                    "training.max_epochs": args.epochs,
                    "system.seed": seed,
                    "training.logger": logger,
                },
                *hamr_log,
                *overrides,
                env=env,
            )
            seconds = time.perf_counter() - start
            test, dev = (
                spacy_evaluate(out / "model-best", corpus / f"{split}.spacy", out / f"{split}.json", env=env)
                for split in ("test", "dev")
            )
            evaluations, updates = read_eval_log(log)
            row = {
                **scores(test, minority),
                **scores(dev, minority, "dev_"),
                "updates": updates,
                "train_seconds": seconds,
                "settings": extra,
                "config": str(args.config or f"efficiency {args.pipeline}"),
                "overrides": args.override,
                "threads": args.threads,
                "dev_curve": [[e["step"], e["score"]] for e in evaluations],
            }
            # The weight statistics come from the callback: a batcher alone logs none.
            if hamr_log and VARIANTS[variant].callback is not None:
                row["weights_per_epoch"] = weights_per_epoch(hamr_log[1])
            arms.setdefault(arm, {})[str(seed)] = row
            print(json.dumps({"variant": arm, "seed": seed, **row}), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            srsly.write_json(args.out, results)
    summarise(arms)


if __name__ == "__main__":
    main()
