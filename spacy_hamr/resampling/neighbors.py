"""The neighbour boost: examples near the hardest ones get drawn more often.

Seeds are the top `seed_fraction` of examples by hardness; each finds its
`n_neighbors` nearest neighbours by cosine similarity (a seed finds itself);
b_i = times example i was returned / the largest such count. The index is
built once, since the embeddings are frozen.
"""

import math
import time
from typing import Callable, List, Optional

import faiss
import numpy
from spacy.training import Example

from ..util import status

Embedder = Callable[[List[Example]], numpy.ndarray]

# Above this many examples the exact (flat) index gives way to an IVF index:
# an all-seeds query costs O(seed_fraction * N^2 * d) exactly, and around here
# the IVF index starts to win at a recall@10 of 0.98 or more
# (docs/scaling.md#exact-or-approximate-search).
EXACT_SEARCH_LIMIT = 50_000

# The IVF index returns this many candidates per wanted neighbour, which are
# then re-ranked by their exact cosine similarity.
RERANK_FACTOR = 2
# Seeds re-ranked per batch: bounds the gathered candidate vectors to
# batch * RERANK_FACTOR * k * d floats (about 30 MB at k = 10, d = 384).
RERANK_BATCH = 1024


class NeighbourIndex:
    """Cosine k-nearest-neighbour search over frozen, L2-normalised vectors.

    `timings` holds the seconds spent in each step of the build and of the
    latest search (normalise, train, add; search, rerank).
    """

    def __init__(self, vectors: numpy.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT, seed: int = 0):
        self.timings = {}
        start = time.perf_counter()
        self.vectors = normalise(vectors)
        self.timings["normalise"] = time.perf_counter() - start
        n, dim = self.vectors.shape
        self.exact = n <= exact_limit
        if self.exact:
            self.index = faiss.IndexFlatIP(dim)
        else:
            start = time.perf_counter()
            self.index = _ivf_index(self.vectors, seed)
            self.timings["train"] = time.perf_counter() - start
        start = time.perf_counter()
        self.index.add(self.vectors)
        self.timings["add"] = time.perf_counter() - start

    def __len__(self) -> int:
        return self.vectors.shape[0]

    def search(self, rows: numpy.ndarray, k: int) -> numpy.ndarray:
        """Indices of the k nearest neighbours of each row (-1 where fewer exist).

        The IVF index compares 8-bit codes, so it is asked for RERANK_FACTOR * k
        candidates, which are put in order by their exact similarity.
        """
        k = min(k, len(self))
        start = time.perf_counter()
        if self.exact:
            _, neighbours = self.index.search(self.vectors[rows], k)
            self.timings["search"] = time.perf_counter() - start
            return neighbours
        _, candidates = self.index.search(self.vectors[rows], min(RERANK_FACTOR * k, len(self)))
        self.timings["search"] = time.perf_counter() - start
        start = time.perf_counter()
        neighbours = rerank(self.vectors, numpy.asarray(rows), candidates, k)
        self.timings["rerank"] = time.perf_counter() - start
        return neighbours


def rerank(
    vectors: numpy.ndarray, rows: numpy.ndarray, candidates: numpy.ndarray, k: int, batch: int = RERANK_BATCH
) -> numpy.ndarray:
    """The k candidates of each row most similar to it by the exact inner product.

    Ties keep the candidates' order; -1 (no candidate) sorts last. Each row's
    result depends on that row alone, so the batch size does not change it.
    """
    out = numpy.empty((len(rows), k), dtype="int64")
    for start in range(0, len(rows), batch):
        cand = candidates[start : start + batch]
        sims = numpy.einsum("bkd,bd->bk", vectors[numpy.maximum(cand, 0)], vectors[rows[start : start + batch]])
        sims[cand < 0] = -numpy.inf
        order = numpy.argsort(-sims, axis=1, kind="stable")[:, :k]
        out[start : start + batch] = numpy.take_along_axis(cand, order, axis=1)
    return out


def _ivf_index(vectors: numpy.ndarray, seed: int) -> faiss.Index:
    """An inverted-file index with 8-bit scalar quantisation (trained, not yet filled).

    1.5 * sqrt(N) lists, trained by k-means on a seeded sample of 40 points
    per list, 4 lists probed per query. The build costs O(N^1.5 d): k-means on
    the sample, then assigning every vector to its nearest list; the seed
    queries scan 4 / (1.5 sqrt(N)) of the corpus each. The 8-bit codes keep
    the vectors in a quarter of float32's memory; re-ranking 2k candidates
    by their exact similarity (`NeighbourIndex.search`) makes up for the
    codes' rounding. Its cost and recall as measured: docs/scaling.md.
    """
    n, dim = vectors.shape
    n_lists = max(1, min(int(1.5 * math.sqrt(n)), n // 40))
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim), dim, n_lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.seed = seed
    index.cp.niter = 10
    index.cp.max_points_per_centroid = 40
    sample = numpy.random.default_rng(seed).choice(n, size=min(n, 40 * n_lists), replace=False)
    index.train(vectors[numpy.sort(sample)])
    index.nprobe = min(n_lists, 4)
    return index


def normalise(vectors: numpy.ndarray) -> numpy.ndarray:
    """float32 rows of unit length (zero rows stay zero), as cosine search needs.

    Works in place when `vectors` already is a C-contiguous float32 array: at
    a million rows a second copy would cost 1.5 GB.
    """
    vectors = numpy.ascontiguousarray(vectors, dtype="float32")
    if vectors.ndim != 2:
        raise ValueError(f"[hamr.v1] Embeddings must be a 2-d array, got shape {vectors.shape}.")
    if not numpy.isfinite(vectors).all():
        raise ValueError("[hamr.v1] Embeddings contain NaN or infinite values.")
    if not vectors.flags.writeable:
        vectors = vectors.copy()
    faiss.normalize_L2(vectors)
    return vectors


def top_fraction(hardness: numpy.ndarray, fraction: float) -> numpy.ndarray:
    """Indices of the ceil(fraction * N) hardest examples (the seeds)."""
    n_seeds = max(1, int(math.ceil(fraction * len(hardness))))
    if n_seeds >= len(hardness):
        return numpy.arange(len(hardness))
    return numpy.argpartition(-hardness, n_seeds - 1)[:n_seeds]


def neighbour_boost(
    index: NeighbourIndex, hardness: numpy.ndarray, seed_fraction: float, n_neighbors: int
) -> numpy.ndarray:
    """b in [0, 1]: how often each example is among the seeds' neighbours, over the maximum."""
    neighbours = index.search(top_fraction(hardness, seed_fraction), n_neighbors)
    hits = numpy.bincount(neighbours[neighbours >= 0], minlength=len(hardness)).astype("float64")
    return hits / max(hits.max(), 1.0)


class NeighbourBoost:
    """Embeds the corpus once (lazily: only if a boost is ever due) and refreshes b."""

    def __init__(
        self,
        embedder: Embedder,
        seed_fraction: float,
        n_neighbors: int,
        exact_limit: int = EXACT_SEARCH_LIMIT,
        seed: int = 0,
    ):
        self.embedder = embedder
        self.seed_fraction = seed_fraction
        self.n_neighbors = n_neighbors
        self.exact_limit = exact_limit
        self.seed = seed
        self._index: Optional[NeighbourIndex] = None

    def __call__(self, examples: List[Example], hardness: numpy.ndarray) -> numpy.ndarray:
        if self._index is None:
            self._index = self._build(examples)
        return neighbour_boost(self._index, hardness, self.seed_fraction, self.n_neighbors)

    def _build(self, examples: List[Example]) -> NeighbourIndex:
        start = time.perf_counter()
        vectors = self.embedder(examples)
        if len(vectors) != len(examples):
            raise ValueError(
                f"[hamr.v1] The embedder returned {len(vectors)} vectors for {len(examples)} training examples."
            )
        index = NeighbourIndex(vectors, self.exact_limit, self.seed)
        kind = "exact" if index.exact else "IVF (approximate)"
        status(
            f"[hamr] Neighbour index: {len(index)} x {index.vectors.shape[1]}, {kind}, "
            f"built in {time.perf_counter() - start:.1f}s"
        )
        return index
