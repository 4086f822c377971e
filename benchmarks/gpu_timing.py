"""HAMR's whole `spacy train` time against plain training on one device,
measured alternately (plain, hamr, plain, hamr, ...), for several configs.

    python benchmarks/gpu_timing.py --gpu-id 0 --repeats 2 --epochs 2 --budget-s 300 \
        --run textcat_cnn:project/configs/textcat_cnn.cfg:CORPUS_DIR \
        --run ner_cnn:project/configs/ner_cnn.cfg:CORPUS_DIR \
        --run textcat_trf:project/configs/textcat_trf.cfg:CORPUS_DIR:MODEL_DIR \
        --out benchmarks/results/gpu_check.json

Each --run is NAME:CONFIG:CORPUS[:TRANSFORMER]: CORPUS holds train.spacy and
dev.spacy; TRANSFORMER, for a transformer config, is the local model folder.
"hamr" is the config with the two HAMR blocks (spacy_hamr.experiments.variants), nothing
else changed. Each run's number of updates is counted by the
hamr.eval_log.v1 logger.

The pairs go round the configs: one pair (plain, then hamr) for each config,
then the second for each, and so on. With --budget-s or --deadline, no pair starts when less
time is left than the config's last pair took (--min-pair-s before its first),
and each training is stopped when the budget runs out. The results are written
after every pair, with what was left out and why; the exit status is 1 unless
every config has at least one whole pair.
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

from thinc.api import Config

from spacy_hamr.experiments.variants import variant_config
from spacy_hamr.training.eval_log import read_eval_log


class TrainingFailed(RuntimeError):
    pass


def train(config: Path, corpus: Path, output: Path, gpu_id: int, epochs: int, model: str = None, timeout: float = None):
    """(wall seconds, number of updates) of one `spacy train` run in a subprocess."""
    log = output.parent / f"{output.name}_log.jsonl"
    logger = json.dumps({"@loggers": "hamr.eval_log.v1", "path": str(log)})
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        str(config),
        "--output",
        str(output),
        "--paths.train",
        str(corpus / "train.spacy"),
        "--paths.dev",
        str(corpus / "dev.spacy"),
        "--training.max_epochs",
        str(epochs),
        "--gpu-id",
        str(gpu_id),
        "--training.logger",
        logger,
    ]
    if model:
        cmd += ["--components.transformer.model.name", model]
    start = time.perf_counter()
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"stopped after {time.perf_counter() - start:.0f} s: the budget ran out") from None
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise TrainingFailed(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return seconds, read_eval_log(log)[1]


def device_name(gpu_id: int) -> str:
    if gpu_id < 0:
        return f"CPU ({platform.processor() or platform.machine()})"
    import torch

    return torch.cuda.get_device_name(gpu_id)


def summarize(run: dict, epochs: int) -> dict:
    """The medians over the whole pairs done so far. HAMR's batcher draws more
    examples per epoch than plain training, so its ratio per update is the cost at
    equal updates."""
    plain, hamr = run["plain_s"], run["hamr_s"]
    if plain:
        ratio = median(h / p for h, p in zip(hamr, plain))
        run.update(
            plain_s_per_epoch=median(plain) / epochs,
            hamr_s_per_epoch=median(hamr) / epochs,
            ratio_median=ratio,
            ratio_per_update=ratio * run["updates"]["plain"] / run["updates"]["hamr"],
        )
    return run


def write(path: Path, results: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="NAME:CONFIG:CORPUS[:TRANSFORMER]")
    parser.add_argument("--gpu-id", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--budget-s", type=float, default=None, help="seconds for all the trainings")
    parser.add_argument(
        "--deadline", type=float, default=None, help="the same as a time.time() value: no training runs past it"
    )
    parser.add_argument(
        "--min-pair-s", type=float, default=30.0, help="the least time left to start a config's first pair"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_gpu_timing"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    start = time.monotonic()
    ends = [args.deadline] if args.deadline is not None else []
    if args.budget_s is not None:
        ends.append(time.time() + args.budget_s)
    end = min(ends, default=None)  # a time.time() value

    def left() -> float:
        return float("inf") if end is None else end - time.time()

    results = {
        "device": device_name(args.gpu_id),
        "gpu_id": args.gpu_id,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "seconds_left_at_start": None if end is None else round(left()),
        "finished": False,
        "runs": {},
    }
    specs = {}
    for spec in args.run:
        name, config, corpus, *model = spec.split(":")
        work = args.work / name
        work.mkdir(parents=True, exist_ok=True)
        base = Config().from_disk(config, interpolate=False)
        configs = {}
        for arm, variant in (("plain", "baseline"), ("hamr", "hamr")):
            configs[arm] = work / f"{arm}.cfg"
            variant_config(base, variant).to_disk(configs[arm])
        specs[name] = (configs, Path(corpus), work, model[0] if model else None)
        results["runs"][name] = {"config": config, "plain_s": [], "hamr_s": [], "updates": {}, "left_out": []}
    write(args.out, results)
    last_pair, out_of_time = {}, False
    for repeat in range(args.repeats):
        for name, (configs, corpus, work, model) in specs.items():
            run = results["runs"][name]
            if "error" in run:
                continue
            need = last_pair.get(name, args.min_pair_s)
            if out_of_time or left() < need:
                out_of_time = True
                run["left_out"].append(f"pair {repeat + 1}: {max(left(), 0):.0f} s left, about {need:.0f} s needed")
                print(f"[gpu-timing] {name}: pair {repeat + 1} left out, {max(left(), 0):.0f} s left", flush=True)
                continue
            pair, pair_start = {}, time.monotonic()
            try:
                for arm in ("plain", "hamr"):
                    seconds, updates = train(
                        configs[arm],
                        corpus,
                        work / arm,
                        args.gpu_id,
                        args.epochs,
                        model,
                        timeout=None if end is None else max(left(), 1),
                    )
                    pair[arm] = (seconds, updates)
                    print(f"[gpu-timing] {name} {arm}: {seconds:.1f} s, {updates} updates", flush=True)
            except TimeoutError as error:
                out_of_time = True
                run["left_out"].append(f"pair {repeat + 1}: {error}")
                print(f"[gpu-timing] {name}: pair {repeat + 1} {error}", flush=True)
            except TrainingFailed as error:
                run["error"] = str(error)[-4000:]
                print(f"[gpu-timing] {name} FAILED: {error}", flush=True)
            else:
                last_pair[name] = time.monotonic() - pair_start
                for arm, (seconds, updates) in pair.items():
                    run[f"{arm}_s"].append(seconds)
                    run["updates"][arm] = updates
                summarize(run, args.epochs)
            write(args.out, results)
    complete = all(run["plain_s"] for run in results["runs"].values())
    results.update(finished=True, seconds=time.monotonic() - start, every_config_timed=complete)
    write(args.out, results)
    print(json.dumps(results, indent=1))
    sys.exit(0 if complete else 1)


if __name__ == "__main__":
    main()
