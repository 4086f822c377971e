"""Whole `spacy train` wall time with HAMR over without, same config,
measured alternately (baseline, hamr, baseline, hamr, ...) in one run.

    python benchmarks/cost.py --dataset hurricane_irma_2017 --pipeline textcat --epochs 4 --repeats 3
    python benchmarks/cost.py --dataset cyclone_idai_2019 --config project/configs/textcat_trf.cfg \
        --steps 200 --threads 2 --repeats 2

`--steps N` stops every run at N updates (HAMR draws 1.2 N examples an epoch, so
equal epochs are not equal updates); `--config` times another base config (the
transformer configs: stored under "DATASET (CONFIG NAME)"); `--threads` pins
every run's thread count; `--set` adds settings to the timed variant's blocks
(`callback.meta_lr=0.003`) and `--override` passes other settings to every run
(`training.eval_frequency=57`).

`--variant record_only` times the label-error recording run instead of HAMR
(stored under "DATASET/record_only").
"""

import argparse
import json
import time
from pathlib import Path
from statistics import median

import srsly

from common import DEFAULT_DATA, block_settings, corpus_paths, dataset_corpus, make_config, spacy_train, train_overrides
from spacy_hamr.experiments.variants import VARIANTS
from spacy_hamr.threads import pinned_environment


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--pipeline", default="textcat")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variant", default="hamr", help="the variant timed against the plain config")
    parser.add_argument("--steps", type=int, help="stop every run at this many updates (instead of --epochs)")
    parser.add_argument("--config", type=Path, help="base config (default: spacy init config's efficiency config)")
    parser.add_argument("--threads", type=int, help="OMP/MKL/OpenBLAS threads of every run (default: the library's)")
    parser.add_argument(
        "--set", nargs="*", default=[], help="the timed variant's settings: batcher.KEY=JSON or callback.KEY=JSON"
    )
    parser.add_argument("--override", nargs="*", default=[], help="spacy train settings for every run: KEY=VALUE")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_cost"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    work = args.work / args.dataset
    corpus = dataset_corpus(args.data / args.dataset, work)
    times = {"baseline": [], args.variant: []}
    settings = {"baseline": {}, args.variant: block_settings(args.set)}
    for _ in range(args.repeats):
        for variant in times:
            cfg = make_config(work, args.pipeline, variant, settings[variant], base=args.config)
            state = (
                ["--training.batcher.state_path", work / variant / "hamr_state.npz"]
                if "state_path" in VARIANTS[variant].batcher
                else []
            )
            start = time.perf_counter()
            spacy_train(
                cfg,
                work / variant,
                {
                    **corpus_paths(corpus),
                    **(
                        {"training.max_epochs": 0, "training.max_steps": args.steps}
                        if args.steps
                        else {"training.max_epochs": args.epochs}
                    ),
                },
                *state,
                *train_overrides(args.override),
                env=pinned_environment(args.threads),
            )
            times[variant].append(time.perf_counter() - start)
            print(variant, round(times[variant][-1], 1), flush=True)
    result = {
        "dataset": args.dataset,
        "pipeline": args.pipeline,
        "config": str(args.config or f"efficiency {args.pipeline}"),
        "epochs": None if args.steps else args.epochs,
        "steps": args.steps,
        "threads": args.threads,
        "settings": settings[args.variant],
        "overrides": args.override,
        "baseline_s": times["baseline"],
        f"{args.variant}_s": times[args.variant],
        "ratio_median": median(h / p for h, p in zip(times[args.variant], times["baseline"])),
    }
    results = srsly.read_json(args.out) if args.out.exists() else {}
    key = args.dataset if args.config is None else f"{args.dataset} ({args.config.stem})"
    results[key if args.variant == "hamr" else f"{key}/{args.variant}"] = result
    srsly.write_json(args.out, results)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
