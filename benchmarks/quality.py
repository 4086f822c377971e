"""Test macro-F1 and smallest-class F1 of HAMR against baselines, several seeds.

    python benchmarks/quality.py --dataset cyclone_idai_2019 --pipeline textcat \
        --epochs 8 --seeds 0 1 2 --variants baseline oversample hamr --out results/quality_idai.json

Each variant is the config `spacy init config -p PIPELINE -o efficiency` makes,
with only [training.batcher] / [training.before_update] changed
(spacy_hamr.variants.VARIANTS; "baseline" is the plain config);
trained with `python -m spacy train`, model-best evaluated on test.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean, pstdev

import srsly
from thinc.api import Config

from spacy_hamr.convert import convert_dataset
from spacy_hamr.variants import VARIANTS, variant_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets"

def run(cmd, **kwargs):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-3000:] + result.stderr[-3000:])
    return result.stdout


def make_config(work: Path, pipeline: str, variant: str, extra: dict) -> Path:
    base = work / f"{pipeline}.cfg"
    if not base.exists():
        run([sys.executable, "-m", "spacy", "init", "config", base, "-p", pipeline, "-o", "efficiency", "-F"])
    config = variant_config(Config().from_disk(base, interpolate=False), variant,
                            extra.get("batcher"), extra.get("callback"))
    path = work / f"{pipeline}_{variant}.cfg"
    config.to_disk(path)
    return path


def smallest_class(train: Path, is_ner: bool) -> str:
    import spacy
    from spacy.tokens import DocBin
    from collections import Counter

    docs = DocBin().from_disk(train).get_docs(spacy.blank("en").vocab)
    counts = Counter()
    for doc in docs:
        if is_ner:
            counts.update(ent.label_ for ent in doc.ents)
        else:
            counts.update(c for c, v in doc.cats.items() if v >= 0.5)
    return min(counts, key=counts.get)


def scores(metrics: dict, is_ner: bool, minority: str) -> dict:
    per_type = metrics["ents_per_type" if is_ner else "cats_f_per_type"]
    macro = mean(v["f"] for v in per_type.values()) if is_ner else metrics["cats_macro_f"]
    return {"macro_f1": 100 * macro, "minority_f1": 100 * per_type.get(minority, {"f": 0.0})["f"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--pipeline", default="textcat")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["baseline", "oversample", "hamr"], choices=list(VARIANTS))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_bench"))
    parser.add_argument("--set", nargs="*", default=[], help="extra settings: batcher.KEY=JSON or callback.KEY=JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    extra = {"batcher": {}, "callback": {}}
    for item in args.set:
        key, value = item.split("=", 1)
        block, name = key.split(".", 1)
        extra[block][name] = json.loads(value)
    work = args.work / args.dataset
    corpus = work / "corpus"
    if not (corpus / "test.spacy").exists():
        convert_dataset(args.data / args.dataset, corpus)
    is_ner = args.pipeline == "ner"
    minority = smallest_class(corpus / "train.spacy", is_ner)
    results = srsly.read_json(args.out) if args.out.exists() else {}
    for variant in args.variants:
        cfg = make_config(work, args.pipeline, variant, extra)
        for seed in args.seeds:
            out = work / f"{variant}_s{seed}"
            start = time.perf_counter()
            run([sys.executable, "-m", "spacy", "train", cfg, "--output", out,
                 "--paths.train", corpus / "train.spacy", "--paths.dev", corpus / "dev.spacy",
                 "--training.max_epochs", args.epochs, "--system.seed", seed])
            seconds = time.perf_counter() - start
            run([sys.executable, "-m", "spacy", "evaluate", out / "model-best", corpus / "test.spacy",
                 "--output", out / "test.json"])
            row = {**scores(srsly.read_json(out / "test.json"), is_ner, minority), "train_seconds": seconds}
            results.setdefault(variant, {})[str(seed)] = row
            print(json.dumps({"variant": variant, "seed": seed, **row}), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            srsly.write_json(args.out, results)
    for variant, by_seed in results.items():
        rows = list(by_seed.values())
        print(f"{variant:18s} macro {mean(r['macro_f1'] for r in rows):5.1f} ± {pstdev([r['macro_f1'] for r in rows]):.1f}"
              f"  minority({minority}) {mean(r['minority_f1'] for r in rows):5.1f}  n={len(rows)}")


if __name__ == "__main__":
    main()
