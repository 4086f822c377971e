"""What one epoch of draws looked like: the numbers the training log shows."""
from collections import Counter
from typing import Dict, List, Sequence

import numpy


def draw_statistics(epoch: int, drawn: numpy.ndarray, labels: Sequence[List[str]]) -> Dict:
    """Draws, unique examples, maximum repeats and each class's share of draws.

    A class's share is the fraction of draws whose example carries it; an NER
    sentence with two entity types counts for both, so shares can sum past 1.
    """
    counts = numpy.bincount(drawn, minlength=len(labels))
    by_class: Counter = Counter()
    for i in numpy.flatnonzero(counts):
        for label in labels[i]:
            by_class[label] += int(counts[i])
    n_draws = int(len(drawn))
    return {
        "epoch": epoch,
        "draws": n_draws,
        "unique": int((counts > 0).sum()),
        "max_repeats": int(counts.max()) if n_draws else 0,
        "class_share": {c: by_class[c] / max(n_draws, 1) for c in sorted(by_class)},
    }


def format_statistics(stats: Dict) -> str:
    shares = ", ".join(f"{c} {100 * s:.1f}%" for c, s in stats["class_share"].items())
    return (
        f"[hamr] epoch {stats['epoch']}: {stats['draws']} draws, {stats['unique']} unique, "
        f"max repeats {stats['max_repeats']}; share of draws: {shares}"
    )
