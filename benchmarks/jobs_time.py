"""Wall time of the project's `train-main` step one training at a time against
N at a time (`--vars.jobs`), on the same datasets, runs and seeds.

    python benchmarks/jobs_time.py --datasets sst5 hurricane_irma_2017 cyclone_idai_2019 \
        --seeds 0 --jobs 2 --out benchmarks/results/jobs_time.json

Each setting trains in its own copy of project/ (datasets copied and converted
before the clock starts), one after the other, with nothing else running.
"""

import argparse
import json
import os
import time
from pathlib import Path

import srsly

from common import DEFAULT_DATA, cpu_name, fresh_project, spacy_project


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", default=["0"])
    parser.add_argument("--jobs", type=int, default=2, help="the side-by-side setting timed against --jobs 1")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_jobs_time"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    datasets, seeds = " ".join(args.datasets), " ".join(args.seeds)
    seconds = {}
    for jobs in (1, args.jobs):
        project = fresh_project(args.work / f"jobs{jobs}", args.data, datasets)
        start = time.perf_counter()
        spacy_project(
            project,
            "train-main",
            ".",
            "--vars.datasets",
            datasets,
            "--vars.seeds",
            seeds,
            "--vars.seeds_ner",
            seeds,
            "--vars.jobs",
            str(jobs),
        )
        seconds[jobs] = time.perf_counter() - start
        print(f"[jobs_time] jobs {jobs}: {seconds[jobs]:.0f} s", flush=True)
    result = {
        "datasets": args.datasets,
        "seeds": args.seeds,
        "runs": len(list((project / "metrics").rglob("*.json"))),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "seconds": {str(jobs): s for jobs, s in seconds.items()},
        "ratio": seconds[args.jobs] / seconds[1],
    }
    results = srsly.read_json(args.out) if args.out.exists() else {}
    results[f"{'+'.join(args.datasets)} seeds {seeds} jobs {args.jobs}"] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(args.out, results)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
