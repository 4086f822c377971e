"""How well NER label errors are found: 3% of the gold entities of an NER
training corpus changed in place (type swaps, deletions, boundary shifts in
equal parts), one training, then the span suspects of the trained model.

    python benchmarks/ner_label_errors.py --dataset mit_restaurant --rate 0.03 \
        --plant-seeds 0 1 2 --out benchmarks/results/ner_label_errors.json

The config is `spacy init config -p ner -o efficiency`'s with the two HAMR
blocks (state_path set). Rate 0 is the clean control. A suspect is a hit when
it overlaps, in the same sentence, the planted error's span before or after
the change. Scores: precision at N (N: errors planted), hits per kind of
planted error in the top N and among all suspects, suspects per 1,000
sentences, and the ranking by the sentence score.
"""

import argparse
import time
from collections import Counter
from pathlib import Path

import spacy
import srsly
from spacy.tokens import DocBin

from common import DEFAULT_DATA, dataset_corpus, make_config, spacy_train
from spacy_hamr.corpus import read_docs
from spacy_hamr.experiments.planted_errors import NER_KINDS, plant_ner_errors  # noqa: E402
from spacy_hamr.label_errors.span_suspects import find_span_suspects  # noqa: E402


def overlaps(a, b) -> bool:
    return a is not None and b is not None and a[0] < b[1] and b[0] < a[1]


def hit_of(suspect, planted_by_doc):
    """The planted error a suspect finds, or None."""
    for p in planted_by_doc.get(suspect.doc, []):
        spans = [p.original, p.planted]
        if any(overlaps(s, t) for s in (suspect.gold, suspect.predicted) for t in spans):
            return p
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="mit_restaurant")
    parser.add_argument("--rate", type=float, default=0.03)
    parser.add_argument("--plant-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--variant", default="hamr")
    parser.add_argument(
        "--uniform",
        action="store_true",
        help="record only: resample = false, weighting = none (spaCy's shuffled, unweighted epochs)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_ner_label_errors"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    work = args.work / args.dataset
    corpus = dataset_corpus(args.data / args.dataset, work)
    blocks = {"batcher": {"resample": False}, "callback": {"weighting": "none"}} if args.uniform else {}
    arm = args.variant + ("_uniform" if args.uniform else "")
    cfg = make_config(work, "ner", args.variant, blocks, arm)
    blank = spacy.blank("en")
    docs = read_docs(corpus / "train.spacy", blank.vocab)
    results = srsly.read_json(args.out) if args.out.exists() else {}
    for seed in args.plant_seeds:
        key = f"{args.dataset}/{arm}/{args.rate:g}/{seed}"
        here = work / f"{arm}_{args.rate:g}_p{seed}"
        noisy, planted = plant_ner_errors(docs, args.rate, seed) if args.rate else (docs, [])
        train_path = here / "train.spacy"
        here.mkdir(parents=True, exist_ok=True)
        DocBin(docs=noisy).to_disk(train_path)
        start = time.perf_counter()
        if not (here / "model" / "model-best").exists():
            hamr = ["--training.batcher.state_path", here / "state.npz"] if args.variant.startswith("hamr") else []
            spacy_train(
                cfg,
                here / "model",
                {
                    "paths.train": train_path,
                    "paths.dev": corpus / "dev.spacy",
                    "training.max_epochs": args.epochs,
                    "system.seed": args.train_seed,
                },
                *hamr,
            )
        train_seconds = time.perf_counter() - start
        nlp = spacy.load(here / "model" / "model-best")
        noisy = read_docs(train_path, nlp.vocab)
        start = time.perf_counter()
        suspects = find_span_suspects(nlp, noisy)
        find_seconds = time.perf_counter() - start
        by_doc = {}
        for p in planted:
            by_doc.setdefault(p.doc, []).append(p)
        n = len(planted)
        hits = [hit_of(s, by_doc) for s in suspects]
        row = {
            "sentences": len(noisy),
            "entities": sum(len(d.ents) for d in docs),
            "planted": n,
            "planted_per_kind": dict(Counter(p.kind for p in planted)),
            "suspects": len(suspects),
            "suspects_per_1000_sentences": 1000.0 * len(suspects) / len(noisy),
            "suspects_per_kind": dict(Counter(s.kind for s in suspects)),
            "train_seconds": train_seconds,
            "find_seconds": find_seconds,
        }
        if n:
            top = hits[:n]
            row.update(
                precision_at_n=sum(h is not None for h in top) / n,
                found_in_top_n={k: len({id(h) for h in top if h is not None and h.kind == k}) for k in NER_KINDS},
                found_in_all={k: len({id(h) for h in hits if h is not None and h.kind == k}) for k in NER_KINDS},
                precision_at_n_per_suspect_kind={
                    k: (
                        sum(h is not None for s, h in zip(suspects[:n], top) if s.kind == k)
                        / max(1, sum(s.kind == k for s in suspects[:n]))
                    )
                    for k in ("wrong_type", "boundary", "missing", "spurious")
                },
            )
        results[key] = row
        args.out.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(args.out, results)
        print(key, {k: v for k, v in row.items() if k not in ("planted_per_kind",)}, flush=True)


if __name__ == "__main__":
    main()
