"""Post-hoc logit adjustment on top of trained runs: test macro-F1 and
smallest-class F1 of each run's model-best as trained and adjusted on dev
(spacy_hamr.logit_adjustment.adjust), with the training corpus's class distribution as the
prior and, for HAMR runs, also the class shares of HAMR's draws.

    python benchmarks/quality.py --dataset cyclone_idai_2019 --epochs 8 --seeds 0 1 \
        --variants baseline oversample hamr --work /tmp/la --out /tmp/la/quality.json
    python benchmarks/logit_adjustment.py --dataset cyclone_idai_2019 --work /tmp/la \
        --runs baseline hamr --seeds 0 1 --out benchmarks/results/logit_adjustment.json

Reads the runs benchmarks/quality.py trained (WORK/DATASET/RUN_sSEED/model-best).
`--summarise` prints, per dataset, each arm's mean macro-F1 and smallest-class F1
and the paired differences (mean and standard error over seeds) against
class-balanced oversampling, from the results file alone.
"""

import argparse
import json
import time
from pathlib import Path
from statistics import mean

import spacy
import srsly
from spacy.training import Corpus

from spacy_hamr.corpus import read_docs
from spacy_hamr.experiments.metrics import corpus_class_counts, macro_f1, per_class_f1, smallest_class
from spacy_hamr.experiments.paired import paired_difference
from spacy_hamr.logit_adjustment.adjust import draws_prior, plan_adjustment


def scores_on(nlp, test, minority):
    metrics = nlp.evaluate(test)
    return {"macro_f1": macro_f1(metrics), "minority_f1": per_class_f1(metrics).get(minority, 0.0)}


# The arms of the comparison: (run, how its model-best is read).
ARMS = [
    ("baseline", "as_trained"),
    ("baseline", "train_prior"),
    ("oversample", "as_trained"),
    ("hamr", "as_trained"),
    ("hamr", "train_prior"),
    ("hamr", "draws_prior"),
]


def summarise(results: dict) -> None:
    for dataset, runs in results.items():
        seeds = sorted(set.intersection(*(set(runs.get(run, {})) for run, _ in ARMS)), key=int)
        print(f"{dataset}: seeds {', '.join(seeds)}")
        reference = {s: runs["oversample"][s]["as_trained"]["macro_f1"] for s in seeds}
        for run, reading in ARMS:
            rows = [runs[run][s][reading] for s in seeds]
            against = paired_difference({s: r["macro_f1"] for s, r in zip(seeds, rows)}, reference)
            taus = [r["tau"] for r in rows if "tau" in r]
            print(
                f"  {run:10s} {reading:11s} macro {mean(r['macro_f1'] for r in rows):5.1f}  smallest class "
                f"{mean(r['minority_f1'] for r in rows):5.1f}  vs oversampling {against['difference']:+5.1f} "
                f"(SE {against['se']})" + (f"  tau {mean(taus):.2f}" if taus else "")
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--runs", nargs="+", default=["baseline", "hamr"])
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--summarise", action="store_true", help="print the paired summary of --out and stop")
    args = parser.parse_args()
    if args.summarise:
        return summarise(srsly.read_json(args.out))
    if not (args.dataset and args.work and args.seeds):
        parser.error("--dataset, --work and --seeds are needed to score runs")
    work = args.work / args.dataset
    corpus = work / "corpus"
    minority = smallest_class(corpus_class_counts(corpus / "train.spacy"))
    results = srsly.read_json(args.out) if args.out.exists() else {}
    by_dataset = results.setdefault(args.dataset, {})
    for run in args.runs:
        for seed in args.seeds:
            model = work / f"{run}_s{seed}" / "model-best"
            nlp = spacy.load(model)
            dev = list(Corpus(corpus / "dev.spacy")(nlp))
            test = list(Corpus(corpus / "test.spacy")(nlp))
            train = read_docs(corpus / "train.spacy", nlp.vocab)
            priors = {"train_prior": {"train": train}}
            hamr_log = work / f"{run}_s{seed}_hamr.jsonl"
            if hamr_log.exists():
                labels = list(nlp.get_pipe("textcat").labels)
                priors["draws_prior"] = {"prior": draws_prior(hamr_log, labels)}
            row = {"as_trained": scores_on(nlp, test, minority)}
            for name, prior in priors.items():
                adjusted = spacy.load(model)
                start = time.perf_counter()
                adjustment = plan_adjustment(adjusted, dev, **prior)
                adjustment.apply()
                row[name] = {
                    **scores_on(adjusted, test, minority),
                    "tau": adjustment.tau,
                    "dev_before": adjustment.before,
                    "dev_after": adjustment.after,
                    "seconds": time.perf_counter() - start,
                }
            by_dataset.setdefault(run, {})[str(seed)] = row
            print(json.dumps({"run": run, "seed": seed, **row}), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            srsly.write_json(args.out, results)


if __name__ == "__main__":
    main()
