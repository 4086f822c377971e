"""Post-hoc logit adjustment on top of trained runs: test macro-F1 and
smallest-class F1 of each run's model-best as trained and adjusted on dev
(spacy_hamr.adjust), with the training corpus's class distribution as the
prior and, for HAMR runs, also the class shares of HAMR's draws.

    python benchmarks/quality.py --dataset cyclone_idai_2019 --epochs 8 --seeds 0 1 \
        --variants baseline oversample hamr --work /tmp/la --out /tmp/la/quality.json
    python benchmarks/logit_adjustment.py --dataset cyclone_idai_2019 --work /tmp/la \
        --runs baseline hamr --seeds 0 1 --out benchmarks/results/logit_adjustment.json

Reads the runs benchmarks/quality.py trained (WORK/DATASET/RUN_sSEED/model-best).
"""
import argparse
import json
import time
from pathlib import Path

import spacy
import srsly
from spacy.tokens import DocBin
from spacy.training import Corpus

from spacy_hamr.adjust import adjust_pipeline, draws_prior
from spacy_hamr.scoring import corpus_class_counts, macro_f1, per_class_f1, smallest_class


def scores_on(nlp, test, minority):
    metrics = nlp.evaluate(test)
    return {"macro_f1": macro_f1(metrics), "minority_f1": per_class_f1(metrics).get(minority, 0.0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--runs", nargs="+", default=["baseline", "hamr"])
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
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
            train = list(DocBin().from_disk(corpus / "train.spacy").get_docs(nlp.vocab))
            priors = {"train_prior": {"train": train}}
            hamr_log = work / f"{run}_s{seed}_hamr.jsonl"
            if hamr_log.exists():
                labels = list(nlp.get_pipe("textcat").labels)
                priors["draws_prior"] = {"prior": draws_prior(hamr_log, labels)}
            row = {"as_trained": scores_on(nlp, test, minority)}
            for name, prior in priors.items():
                adjusted = spacy.load(model)
                start = time.perf_counter()
                adjustment = adjust_pipeline(adjusted, dev, **prior)
                row[name] = {**scores_on(adjusted, test, minority), "tau": adjustment.tau,
                             "dev_before": adjustment.before, "dev_after": adjustment.after,
                             "seconds": time.perf_counter() - start}
            by_dataset.setdefault(run, {})[str(seed)] = row
            print(json.dumps({"run": run, "seed": seed, **row}), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            srsly.write_json(args.out, results)


if __name__ == "__main__":
    main()
