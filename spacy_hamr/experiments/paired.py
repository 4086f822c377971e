"""Arms compared over the same seeds: the mean paired difference, its standard
error, and the verdict the reports print (a margin within two standard errors is
a tie)."""

import math
from statistics import mean, stdev
from typing import Mapping


def paired_difference(run: Mapping[str, float], control: Mapping[str, float]) -> dict:
    """`run` minus `control` (each a score per seed) over the seeds both have."""
    seeds = sorted(set(run) & set(control), key=int)
    diffs = [run[s] - control[s] for s in seeds]
    if not diffs:
        return {"difference": None, "se": None, "seeds": 0, "verdict": "no shared seed"}
    difference = mean(diffs)
    se = stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else None
    if se is None:
        verdict = "one seed"
    elif abs(difference) <= 2 * se:
        verdict = "tie"
    else:
        verdict = "ahead" if difference > 0 else "behind"
    return {
        "difference": round(difference, 2),
        "se": None if se is None else round(se, 2),
        "seeds": len(diffs),
        "verdict": verdict,
    }
