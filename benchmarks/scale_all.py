"""Run benchmarks/scale.py at 10^4, 10^5, 10^6 (and the exact-vs-IVF crossover)
in fresh processes, so each peak RSS is its own, and write
benchmarks/results/scale.json and scale.md.

The 1M row is run twice, and every row records the 1-minute load average
before and after its boost: on a 2-core machine shared with other work, a
load above ~1.5 means other processes took CPU time from the measurement."""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
RUNS = [
    # (n, exact limit override or None for the default, measure recall)
    (10_000, None, True),
    (100_000, None, True),
    (1_000_000, None, True),
    (1_000_000, None, True),
    # crossover: both index kinds at the same N
    (50_000, 10**9, True),
    (50_000, 0, True),
    (100_000, 10**9, True),
    (100_000, 0, True),
    (200_000, 10**9, True),
    (200_000, 0, True),
]


def run(n, exact_limit, with_recall):
    cmd = [sys.executable, str(HERE / "scale.py"), "--n", str(n), "--json"]
    if exact_limit is not None:
        cmd += ["--exact-limit", str(exact_limit)]
    if with_recall:
        cmd.append("--recall")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    results = {"default": [], "crossover": []}
    for n, limit, with_recall in RUNS:
        row = run(n, limit, with_recall)
        results["default" if limit is None else "crossover"].append(row)
        print(json.dumps(row), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "scale.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "| N | draws | draw_s | boost_s | cpu_s | index | recall@10 | peak_rss_mb | load before/after |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in results["default"]:
        lines.append(
            f"| {r['n']:,} | {r['draws']:,} | {r['draw_s']} | {r['boost_s']} | {r['cpu_s']} | {r['index']} | "
            f"{r['recall_at_k']} | {r['peak_rss_mb']} | {r['load'][0]} / {r['load'][1]} |"
        )
    steps = ["normalise", "train", "add", "search", "rerank"]
    lines += [
        "",
        "boost_s by step (seconds):",
        "",
        "| N | index | " + " | ".join(steps) + " |",
        "|---:|---|" + "---:|" * len(steps),
    ]
    for r in results["default"]:
        lines.append(f"| {r['n']:,} | {r['index']} | " + " | ".join(str(r["steps"].get(s, "")) for s in steps) + " |")
    lines += ["", "| N | index | boost_s | cpu_s | recall@10 | load before/after |", "|---:|---|---:|---:|---:|---|"]
    for r in results["crossover"]:
        lines.append(
            f"| {r['n']:,} | {r['index']} | {r['boost_s']} | {r['cpu_s']} | {r['recall_at_k']} | {r['load'][0]} / {r['load'][1]} |"
        )
    (HERE / "results" / "scale.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
