"""How long plain training needs: dev macro-F of a plain config against updates, and the budget where it has converged.

    python benchmarks/budget.py --dataset bionlp2004 --epochs 15 --seed 0 \
        --out benchmarks/results/ner_budget.json
    python benchmarks/budget.py --dataset sst5 --pipeline textcat --epochs 24 \
        --eval-frequency 50 --out benchmarks/results/textcat_budget.json

One `spacy train` of the plain config (`spacy init config -p PIPELINE -o
efficiency`, or --config's, e.g. project/configs/ner_trf.cfg with the offline
all-MiniLM-L6-v2; --override passes other settings) for --epochs epochs,
evaluated on dev every --eval-frequency updates (NER: the mean of the per-type
F; textcat: `cats_macro_f`). "Converged at E epochs" means: the best dev
macro-F over the first E epochs is within --tolerance points of the best over
the whole run, and the run is at least three times as long as E. --name keys
the result (and its run folder) for a setting other than the default, e.g.
another learning rate:

    python benchmarks/budget.py --dataset mit_restaurant --config project/configs/ner_trf.cfg \
        --epochs 12 --eval-frequency 94 --threads 1 --name lr1e-4 \
        --override training.optimizer.learn_rate.initial_rate=1e-4 \
        --out benchmarks/results/transformer_budget.json
"""

import argparse
import json
import time
from pathlib import Path

import srsly

from common import DEFAULT_DATA, corpus_paths, dataset_corpus, make_config, spacy_train, train_overrides
from spacy_hamr.threads import pinned_environment
from spacy_hamr.training.eval_log import read_eval_log
from spacy_hamr.training.scoring import ner_macro_f


def read_curve(path: Path, pipeline: str):
    rows = []
    for row in read_eval_log(path)[0]:
        scores = row["scores"]
        if pipeline == "ner":
            macro = ner_macro_f(scores)
            per_class = {t: 100 * s["f"] for t, s in (scores.get("ents_per_type") or {}).items()}
            extra = {"ents_f": 100 * scores["ents_f"]}
        else:
            macro = scores["cats_macro_f"]
            per_class = {t: 100 * s["f"] for t, s in (scores.get("cats_f_per_type") or {}).items()}
            extra = {}
        rows.append(
            {
                "epoch": row["epoch"],
                "step": row["step"],
                **extra,
                "macro_f": None if macro is None else 100 * macro,
                "per_type_f": per_class,
            }
        )
    return rows


def converged_epochs(curve, epochs: int, tolerance: float):
    """The fewest whole epochs E (E <= epochs / 3) whose best macro-F is within tolerance of the run's best."""
    best = max(r["macro_f"] for r in curve)
    for e in range(1, epochs // 3 + 1):
        best_until = max(r["macro_f"] for r in curve if r["epoch"] < e)
        if best_until >= best - tolerance:
            return e, best_until, best
    return None, None, best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--pipeline", default="ner", choices=["ner", "textcat"])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-frequency", type=int, default=200)
    parser.add_argument("--tolerance", type=float, default=0.5)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_budget"))
    parser.add_argument("--config", type=Path, help="base config (default: spacy init config's efficiency config)")
    parser.add_argument("--override", nargs="*", default=[], help="other spacy train settings: KEY=VALUE")
    parser.add_argument("--threads", type=int, help="OMP/MKL/OpenBLAS threads (default: the library's)")
    parser.add_argument("--name", help="the setting's name in the result's key and run folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    work = args.work / args.dataset
    corpus = dataset_corpus(args.data / args.dataset, work)
    cfg = make_config(work, args.pipeline, "baseline", {}, base=args.config)
    run_name = f"{args.name}_s{args.seed}" if args.name else f"s{args.seed}"
    curve_path = work / f"curve_{run_name}.jsonl"
    logger = json.dumps({"@loggers": "hamr.eval_log.v1", "path": str(curve_path)})
    start = time.perf_counter()
    spacy_train(
        cfg,
        work / f"plain_{run_name}",
        {
            "training.logger": logger,
            **corpus_paths(corpus),
            "training.max_epochs": args.epochs,
            "training.eval_frequency": args.eval_frequency,
            "training.patience": 0,
            "training.max_steps": 0,
            "system.seed": args.seed,
        },
        *train_overrides(args.override),
        env=pinned_environment(args.threads),
    )
    seconds = time.perf_counter() - start
    curve = read_curve(curve_path, args.pipeline)
    epochs, best_until, best = converged_epochs(curve, args.epochs, args.tolerance)
    steps_per_epoch = {}
    for r in curve:
        steps_per_epoch[r["epoch"]] = r["step"]
    result = {
        "dataset": args.dataset,
        "pipeline": args.pipeline,
        "config": str(args.config or f"efficiency {args.pipeline}"),
        "overrides": args.override,
        "threads": args.threads,
        "seed": args.seed,
        "epochs_run": args.epochs,
        "eval_frequency": args.eval_frequency,
        "train_seconds": seconds,
        "best_macro_f": best,
        "converged_epochs": epochs,
        "best_macro_f_within_budget": best_until,
        "tolerance": args.tolerance,
        "last_step_seen_per_epoch": steps_per_epoch,
        "curve": curve,
    }
    results = srsly.read_json(args.out) if args.out.exists() else {}
    results[f"{args.dataset}_{run_name}"] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(args.out, results)
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}))


if __name__ == "__main__":
    main()
