"""Time and memory of HAMR's sampler and neighbour boost as the corpus grows.

    python benchmarks/scale.py --n 1000000 --json

Prints one JSON object: draw_s (one epoch's draw of ceil(1.2 N) from the
HAMR distribution), boost_s (neighbour boost, rho = 0.1, k = 10, 384-d:
index build + all seed queries), cpu_s (the process's CPU time over the
boost, both cores together: less sensitive to other processes than boost_s),
steps (boost_s split into normalise, train, add, search, rerank), boosted
and boost_sha256 (how many examples got b > 0, and a digest of b: equal
digests mean bit-identical boosts), peak_rss_mb, the index kind, load (the
1-minute load average before and after: on a shared machine other processes
slow the boost), and (with --recall) the recall@k of the index against
exact search on 200 seeds. Embeddings are synthetic clusters (1,000 topics),
generated in float32 chunks so that the generator is not what is measured.
"""

import argparse
import hashlib
import json
import os
import resource
import time

import numpy

from spacy_hamr.resampling.neighbors import EXACT_SEARCH_LIMIT, NeighbourIndex, neighbour_boost, top_fraction
from spacy_hamr.resampling.sampling import draw_epoch, epoch_draws, sampling_probabilities

DIM = 384
SEED_FRACTION = 0.1
N_NEIGHBORS = 10


def clustered_embeddings(n: int, rng: numpy.random.Generator, chunk: int = 100_000) -> numpy.ndarray:
    centres = rng.standard_normal((1000, DIM), dtype="float32")
    out = numpy.empty((n, DIM), dtype="float32")
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        topic = rng.integers(0, len(centres), stop - start)
        out[start:stop] = centres[topic] + rng.standard_normal((stop - start, DIM), dtype="float32")
    return out


def recall(index: NeighbourIndex, hardness: numpy.ndarray, n_queries: int = 200, chunk: int = 50) -> float:
    seeds = top_fraction(hardness, SEED_FRACTION)[:n_queries]
    approx = index.search(seeds, N_NEIGHBORS)
    exact = numpy.concatenate(
        [
            numpy.argpartition(-(index.vectors[seeds[i : i + chunk]] @ index.vectors.T), N_NEIGHBORS - 1, axis=1)[
                :, :N_NEIGHBORS
            ]
            for i in range(0, len(seeds), chunk)
        ]
    )
    return float(numpy.mean([len(set(a) & set(e)) / N_NEIGHBORS for a, e in zip(approx, exact)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--exact-limit", type=int, default=EXACT_SEARCH_LIMIT)
    parser.add_argument("--recall", action="store_true", help="measure recall@k (approximate index)")
    args = parser.parse_args()

    rng = numpy.random.default_rng(0)
    hardness = rng.exponential(size=args.n)
    hardness /= hardness.sum()
    boost = numpy.zeros(args.n)

    start = time.perf_counter()
    p = sampling_probabilities(hardness, boost, alpha=0.7, boost_weight=0.7)
    drawn = draw_epoch(rng, p, epoch_draws(args.n, 1.2))
    draw_s = time.perf_counter() - start

    vectors = clustered_embeddings(args.n, rng)
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    index = NeighbourIndex(vectors, exact_limit=args.exact_limit)
    del vectors  # the index keeps its own normalised copy
    b = neighbour_boost(index, hardness, SEED_FRACTION, N_NEIGHBORS)
    boost_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    load_after = os.getloadavg()[0]

    result = {
        "n": args.n,
        "draws": int(len(drawn)),
        "draw_s": round(draw_s, 3),
        "boost_s": round(boost_s, 3),
        "cpu_s": round(cpu_s, 2),
        "steps": {step: round(seconds, 3) for step, seconds in index.timings.items()},
        "index": "exact" if index.exact else "ivf",
        "boosted": int((b > 0).sum()),
        "boost_sha256": hashlib.sha256(b.tobytes()).hexdigest()[:16],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load": [round(load_before, 2), round(load_after, 2)],
    }
    if args.recall:
        result["recall_at_k"] = round(recall(index, hardness), 3)
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
