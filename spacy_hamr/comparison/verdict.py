"""The comparison's verdict: each arm's dev (and test) macro-F1 over the seeds,
its difference from plain training and from the best arm paired by seed, and
the recommendation: the cheapest arm tied with the best (a margin within two
standard errors is a tie), chosen on dev."""

from statistics import mean, stdev
from typing import Dict, List

from ..experiments.metrics import macro_f1, per_class_f1
from ..experiments.paired import paired_difference
from ..experiments.variants import VARIANTS
from .adjusted import adjusts
from .plan import ComparisonPlan

CONTROL = "baseline"


def per_seed_scores(plan: ComparisonPlan, results: Dict[str, Dict[int, Dict]]) -> Dict[str, Dict[str, Dict]]:
    """{arm: {seed: {"dev", "test" (macro-F1), "dev_per_class", "test_per_class", "updates", "seconds"}}},
    from results: {arm: {seed: {"metrics": {corpus: what spacy evaluate writes}, "updates", "seconds"}}}."""
    scores: Dict[str, Dict[str, Dict]] = {}
    for arm in plan.arms:
        scores[arm] = {}
        for seed in plan.seeds:
            result = results[arm][seed]
            row = {"updates": result["updates"], "seconds": round(result["seconds"], 1)}
            for corpus, metrics in result["metrics"].items():
                row[corpus] = round(macro_f1(metrics), 2)
                row[f"{corpus}_per_class"] = {label: round(f, 2) for label, f in per_class_f1(metrics).items()}
            scores[arm][str(seed)] = row
    return scores


def verdict(plan: ComparisonPlan, scores: Dict[str, Dict[str, Dict]]) -> Dict:
    """Per arm: means, standard deviations, the smallest class's F1, and paired differences
    on dev against plain training and against the best arm; the recommended arm."""
    control = CONTROL if CONTROL in plan.arms else plan.arms[0]
    smallest = min(sorted(plan.train_counts), key=plan.train_counts.get)
    dev = {arm: {seed: row["dev"] for seed, row in by_seed.items()} for arm, by_seed in scores.items()}
    best = max(plan.arms, key=lambda arm: (mean(dev[arm].values()), -plan.arms.index(arm)))
    arms = {}
    for arm in plan.arms:
        rows = list(scores[arm].values())
        summary = {
            # A logit adjustment picks its strength on dev: its dev score is cross-fitted (comparison/adjusted.py).
            "tuned_on_dev": adjusts(arm),
            "dev": _mean_sd([row["dev"] for row in rows]),
            "smallest_class_dev": round(mean(row["dev_per_class"].get(smallest, 0.0) for row in rows), 2),
            "updates": sorted({row["updates"] for row in rows}),
            "seconds": round(mean(row["seconds"] for row in rows), 1),
            "against_control": paired_difference(dev[arm], dev[control]) if arm != control else None,
            "against_best": paired_difference(dev[arm], dev[best]) if arm != best else None,
        }
        if "test" in plan.corpora:
            summary["test"] = _mean_sd([row["test"] for row in rows])
            summary["smallest_class_test"] = round(mean(row["test_per_class"].get(smallest, 0.0) for row in rows), 2)
        arms[arm] = summary
    tied = [arm for arm in plan.arms if arm == best or arms[arm]["against_best"]["verdict"] == "tie"]
    recommended = min(tied, key=lambda arm: (VARIANTS[arm].cost_rank, plan.arms.index(arm)))
    return {
        "control": control,
        "best": best,
        "tied_with_best": tied,
        "recommended": recommended,
        "smallest_class": smallest,
        "arms": arms,
    }


def _mean_sd(values: List[float]) -> Dict[str, float]:
    return {"mean": round(mean(values), 2), "sd": round(stdev(values), 2) if len(values) > 1 else 0.0}
