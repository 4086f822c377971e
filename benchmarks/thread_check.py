"""The same config and seed trained at several thread counts (OpenMP, MKL and
OpenBLAS pools pinned alike, as spacy_hamr.threads.pinned_environment pins them):
which files of the saved pipelines differ?

    python benchmarks/thread_check.py --dataset cyclone_idai_2019 --pipeline textcat --epochs 8 \
        --seeds 0 9 --threads 1 2 --set callback.lookahead_size=256 --out benchmarks/results/threads.json

    python benchmarks/thread_check.py --dataset cyclone_idai_2019 --config project/configs/textcat_trf.cfg \
        --limit 200 --override components.transformer.model.name=PATH training.max_steps=30 ...

Each arm is a quality.py variant (default: full HAMR) of the efficiency config
`spacy init config` makes, or of `--config`. A row per seed lists the
files of model-last and model-best (meta.json aside: it holds timings) whose
bytes differ between the thread counts; an empty list means byte-identical.
"""

import argparse
import hashlib
import json
import time
from pathlib import Path

import srsly

from common import DEFAULT_DATA, block_settings, corpus_paths, dataset_corpus, make_config, spacy_train, train_overrides
from spacy_hamr.experiments.convert import convert_dataset  # noqa: E402
from spacy_hamr.threads import pinned_environment  # noqa: E402


def file_hashes(model_dir: Path) -> dict:
    return {
        str(p.relative_to(model_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(model_dir.rglob("*"))
        if p.is_file() and p.name != "meta.json"
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--pipeline", default="textcat")
    parser.add_argument("--variant", default="hamr")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--set", nargs="*", default=[], help="extra settings: batcher.KEY=JSON or callback.KEY=JSON")
    parser.add_argument("--config", type=Path, help="the base config (default: the efficiency config)")
    parser.add_argument("--override", nargs="*", default=[], help="spacy train overrides: SECTION.KEY=VALUE")
    parser.add_argument("--limit", type=int, default=0, help="records per split (0: all)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_threads"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    extra = block_settings(args.set)
    work = args.work / (args.dataset + (f"_{args.limit}" if args.limit else ""))
    if args.limit:
        corpus = work / "corpus"
        convert_dataset(args.data / args.dataset, corpus, limit=args.limit)
    else:
        corpus = dataset_corpus(args.data / args.dataset, work)
    cfg = make_config(work, args.pipeline, args.variant, extra, base=args.config)
    overrides = train_overrides(args.override)
    results = srsly.read_json(args.out) if args.out.exists() else {}
    for seed in args.seeds:
        hashes, seconds = {}, {}
        for threads in args.threads:
            out = work / f"{args.variant}_s{seed}_t{threads}"
            start = time.perf_counter()
            spacy_train(
                cfg,
                out,
                {
                    **corpus_paths(corpus),
                    "training.max_epochs": args.epochs,
                    "system.seed": seed,
                },
                *overrides,
                env=pinned_environment(threads),
            )
            seconds[threads] = round(time.perf_counter() - start, 1)
            hashes[threads] = {model: file_hashes(out / model) for model in ("model-last", "model-best")}
        first = args.threads[0]
        differing = sorted(
            {
                f"{model}/{name}"
                for threads in args.threads[1:]
                for model, files in hashes[threads].items()
                for name, digest in files.items()
                if hashes[first][model].get(name) != digest
            }
        )
        row = {
            "pipeline": args.pipeline,
            "config": str(args.config or "efficiency"),
            "variant": args.variant,
            "epochs": args.epochs,
            "limit": args.limit,
            "settings": extra,
            "overrides": args.override,
            "threads": args.threads,
            "seconds": seconds,
            "differing_files": differing,
        }
        key = f"{args.dataset}/{args.config.stem if args.config else 'efficiency'}/{args.variant}" + "".join(
            f"/{k}={v}" for b in extra.values() for k, v in b.items()
        )
        results.setdefault(key, {})[str(seed)] = row
        print(json.dumps({"dataset": args.dataset, "seed": seed, **row}), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(args.out, results)


if __name__ == "__main__":
    main()
