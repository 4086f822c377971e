"""HAMR's whole `spacy train` time against plain training on one device,
measured alternately (plain, hamr, plain, hamr, ...), for several configs.

    python benchmarks/gpu_timing.py --gpu-id 0 --repeats 2 --epochs 2 \
        --run textcat_cnn:project/configs/textcat_cnn.cfg:CORPUS_DIR \
        --run ner_cnn:project/configs/ner_cnn.cfg:CORPUS_DIR \
        --run textcat_trf:project/configs/textcat_trf.cfg:CORPUS_DIR:MODEL_DIR \
        --out benchmarks/results/gpu_check.json

Each --run is NAME:CONFIG:CORPUS[:TRANSFORMER]: CORPUS holds train.spacy and
dev.spacy; TRANSFORMER, for a transformer config, is the local model folder.
"hamr" is the config with the two HAMR blocks (spacy_hamr.variants), nothing
else changed. Each run's number of updates is counted by the
hamr.eval_log.v1 logger.
"""
import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import srsly
from thinc.api import Config

from spacy_hamr.eval_log import read_eval_log
from spacy_hamr.variants import variant_config


def train(config: Path, corpus: Path, output: Path, gpu_id: int, epochs: int, model: str = None):
    log = output.parent / f"{output.name}_log.jsonl"
    logger = json.dumps({"@loggers": "hamr.eval_log.v1", "path": str(log)})
    cmd = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output),
           "--paths.train", str(corpus / "train.spacy"), "--paths.dev", str(corpus / "dev.spacy"),
           "--training.max_epochs", str(epochs), "--gpu-id", str(gpu_id), "--training.logger", logger]
    if model:
        cmd += ["--components.transformer.model.name", model]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return seconds, read_eval_log(log)[1]


def device_name(gpu_id: int) -> str:
    if gpu_id < 0:
        return f"CPU ({platform.processor() or platform.machine()})"
    import torch

    return torch.cuda.get_device_name(gpu_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="NAME:CONFIG:CORPUS[:TRANSFORMER]")
    parser.add_argument("--gpu-id", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_gpu_timing"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    results = {"device": device_name(args.gpu_id), "gpu_id": args.gpu_id, "epochs": args.epochs, "runs": {}}
    for spec in args.run:
        name, config, corpus, *model = spec.split(":")
        work = args.work / name
        work.mkdir(parents=True, exist_ok=True)
        base = Config().from_disk(config, interpolate=False)
        configs = {}
        for arm, variant in (("plain", "baseline"), ("hamr", "hamr")):
            configs[arm] = work / f"{arm}.cfg"
            variant_config(base, variant).to_disk(configs[arm])
        times = {"plain": [], "hamr": []}
        updates = {}
        for _ in range(args.repeats):
            for arm in ("plain", "hamr"):
                seconds, updates[arm] = train(configs[arm], Path(corpus), work / arm, args.gpu_id, args.epochs,
                                           model[0] if model else None)
                times[arm].append(seconds)
                print(f"[gpu-timing] {name} {arm}: {seconds:.1f} s", flush=True)
        results["runs"][name] = {
            "plain_s": times["plain"], "hamr_s": times["hamr"],
            "plain_s_per_epoch": median(times["plain"]) / args.epochs,
            "hamr_s_per_epoch": median(times["hamr"]) / args.epochs,
            "ratio_median": median(h / p for h, p in zip(times["hamr"], times["plain"])),
            "updates": updates,
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(args.out, results)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
