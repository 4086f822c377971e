"""How long a plain run of the transformer backbone takes per dataset on this machine.

    python benchmarks/backbone_time.py --steps 10 --out benchmarks/results/backbone_time.json

A whole transformer run takes hours per dataset on 2 CPU cores, so this times a
sample: the project's config (project/configs/<pipeline>_trf.cfg, MiniLM) is
initialised on the dataset, the epoch's batches are made by the config's own
batcher, `--steps` of them are trained (after one warm-up step), and 200 dev
examples are evaluated. The trf configs batch by padded size (1000 tokens per
batch, constant), so the steps cost about the same and

    epoch = batches per epoch x seconds per step
    run   = epochs x epoch + (steps / eval_frequency + 1) x dev evaluation

with the project's epochs (8 textcat, 3 ner). The CNN configs grow their
batches from 100 to 1000 words, so their cost is not per step: the CNN runs
are timed whole by `spacy project run all` (results/summary.json).
"""

import argparse
import random
import time
from pathlib import Path

import srsly
from spacy.schemas import ConfigSchemaTraining
from spacy.training.initialize import init_nlp
from spacy.util import load_config, registry, resolve_dot_names

from common import DEFAULT_DATA
from spacy_hamr.experiments.convert import convert_dataset, is_ner, read_records
from spacy_hamr.resampling.embedders import default_model_path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ["sst5", "hurricane_irma_2017", "cyclone_idai_2019", "bionlp2004", "mit_restaurant", "tweetner7_2020"]
EPOCHS = {"textcat": 8, "ner": 3}
DEV_SAMPLE = 200


def time_dataset(dataset: str, steps: int, data: Path, work: Path) -> dict:
    corpus = work / dataset
    if not (corpus / "train.spacy").exists():
        convert_dataset(data / dataset, corpus)
    pipeline = "ner" if is_ner(read_records(data / dataset / "dev.json")[:1]) else "textcat"
    overrides = {
        "paths.train": str(corpus / "train.spacy"),
        "paths.dev": str(corpus / "dev.spacy"),
        "components.transformer.model.name": default_model_path(),
    }
    config = load_config(ROOT / "project" / "configs" / f"{pipeline}_trf.cfg", overrides=overrides)
    random.seed(0)
    nlp = init_nlp(config)
    resolved = nlp.config.interpolate()
    training = registry.resolve(resolved["training"], schema=ConfigSchemaTraining)
    train_corpus, dev_corpus = resolve_dot_names(resolved, [training["train_corpus"], training["dev_corpus"]])
    train, dev = list(train_corpus(nlp)), list(dev_corpus(nlp))
    random.shuffle(train)
    batches = list(training["batcher"](train))
    optimizer, dropout = training["optimizer"], training["dropout"]
    nlp.update(batches[0], sgd=optimizer, drop=dropout, losses={})  # warm-up: lazy allocations
    start = time.perf_counter()
    for batch in batches[1 : steps + 1]:
        nlp.update(batch, sgd=optimizer, drop=dropout, losses={})
    step_s = (time.perf_counter() - start) / min(steps, len(batches) - 1)
    start = time.perf_counter()
    nlp.evaluate(dev[:DEV_SAMPLE])
    dev_s = (time.perf_counter() - start) * len(dev) / min(DEV_SAMPLE, len(dev))
    epochs = EPOCHS[pipeline]
    total_steps = epochs * len(batches)
    run_s = total_steps * step_s + (total_steps // training["eval_frequency"] + 1) * dev_s
    row = {
        "dataset": dataset,
        "pipeline": pipeline,
        "backbone": "trf",
        "steps_timed": steps,
        "seconds_per_step": step_s,
        "batches_per_epoch": len(batches),
        "dev_eval_seconds": dev_s,
        "epochs": epochs,
        "estimated_run_seconds": run_s,
    }
    print(srsly.json_dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_backbone_time"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [time_dataset(d, args.steps, args.data, args.work) for d in args.datasets]
    srsly.write_json(args.out, rows)


if __name__ == "__main__":
    main()
