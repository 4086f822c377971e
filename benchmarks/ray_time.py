"""Wall time of the project's `train-main` step with the local executor, two
runs at a time, against a Ray cluster on the same cores (`ray start --head
--num-cpus 2`, one CPU and one thread per run), on the same datasets, runs and
seeds; and whether both report the same scores.

    python benchmarks/ray_time.py --datasets sst5 hurricane_irma_2017 cyclone_idai_2019 \
        --seeds 0 --out benchmarks/results/ray_time.json

Each executor trains in its own copy of project/ (datasets copied and converted
before the clock starts), one after the other, with nothing else running; the
Ray clock includes connecting to the cluster and each worker's start. Then the
`report` step runs in both copies, and their summary.json files are compared
with the timing fields left out.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import srsly

from common import DEFAULT_DATA, cpu_name, fresh_project, spacy_project

TIMINGS = ("train_seconds",)


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def ray(*args) -> str:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    command = [str(Path(sys.executable).with_name("ray")), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", default=["0"])
    parser.add_argument("--cpus", type=int, default=2, help="runs at once locally; the Ray cluster's CPUs")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_ray_time"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    datasets, seeds = " ".join(args.datasets), " ".join(args.seeds)
    train = ["train-main", ".", "--vars.datasets", datasets, "--vars.seeds", seeds, "--vars.seeds_ner", seeds]
    seconds, summaries = {}, {}
    for executor in ("local", "ray"):
        project = fresh_project(args.work / executor, args.data, datasets)
        options = ["--vars.jobs", str(args.cpus)]
        if executor == "ray":
            started = ray(
                "start", "--head", "--num-cpus", str(args.cpus), "--port", "0", "--include-dashboard", "false"
            )
            options += ["--vars.ray_address", re.search(r"ray start --address='([^']+)'", started).group(1)]
        start = time.perf_counter()
        try:
            spacy_project(project, *train, *options)
        finally:
            seconds[executor] = time.perf_counter() - start
            if executor == "ray":
                ray("stop", "--force")
        print(f"[ray_time] {executor}: {seconds[executor]:.0f} s", flush=True)
        spacy_project(project, "report", ".")
        summaries[executor] = without_timings(srsly.read_json(project / "results" / "summary.json"))
    result = {
        "datasets": args.datasets,
        "seeds": args.seeds,
        "runs": len(list((args.work / "ray" / "metrics").rglob("*.json"))),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "seconds": seconds,
        "ratio": seconds["ray"] / seconds["local"],
        "same_summary": summaries["local"] == summaries["ray"],
    }
    results = srsly.read_json(args.out) if args.out.exists() else {}
    results[f"{'+'.join(args.datasets)} seeds {seeds} on {args.cpus} CPUs"] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(args.out, results)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
