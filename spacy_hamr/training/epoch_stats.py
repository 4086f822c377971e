"""What one epoch of draws looked like: the numbers the training log shows."""

from typing import Dict

import numpy


def draw_statistics(epoch: int, drawn: numpy.ndarray, n_examples: int, class_share: Dict[str, float]) -> Dict:
    """Draws, unique examples and maximum repeats of the epoch's draws (indices
    of the examples), with each class's share of them (`HamrState.draw_shares`)."""
    counts = numpy.bincount(drawn, minlength=n_examples)
    n_draws = int(len(drawn))
    return {
        "epoch": epoch,
        "draws": n_draws,
        "unique": int((counts > 0).sum()),
        "max_repeats": int(counts.max()) if n_draws else 0,
        "class_share": class_share,
    }


# Pairs of (loss, learned weight) kept per epoch for the report's plot.
LOSS_WEIGHT_SAMPLE = 500


def step_summary(step_log: Dict[str, list], rng: numpy.random.Generator) -> Dict:
    """Weight mean / p10 / p90, mean meta loss, the median of the meta steps'
    hypergradient RMS and the number of meta steps (done and skipped) of the
    callback's steps."""
    summary: Dict = {}
    if step_log.get("weight"):
        w = numpy.asarray(step_log["weight"])
        summary.update(
            weight_mean=float(w.mean()),
            weight_p10=float(numpy.percentile(w, 10)),
            weight_p90=float(numpy.percentile(w, 90)),
        )
    if step_log.get("meta_loss"):
        summary["meta_loss"] = float(numpy.mean(step_log["meta_loss"]))
    if step_log.get("hypergrad_rms"):
        summary["hypergrad_rms"] = float(numpy.median(step_log["hypergrad_rms"]))
    if step_log.get("meta_loss") or step_log.get("meta_skipped"):
        summary["meta_steps"] = len(step_log.get("meta_loss", []))
        summary["meta_skipped"] = len(step_log.get("meta_skipped", []))
    pairs = step_log.get("loss_weight") or []
    if pairs:
        keep = rng.choice(len(pairs), size=min(len(pairs), LOSS_WEIGHT_SAMPLE), replace=False)
        summary["loss_weight"] = [pairs[i] for i in sorted(keep)]
    return summary


def format_statistics(stats: Dict) -> str:
    shares = ", ".join(f"{c} {100 * s:.1f}%" for c, s in stats["class_share"].items())
    line = (
        f"[hamr] epoch {stats['epoch']}: {stats['draws']} draws, {stats['unique']} unique, "
        f"max repeats {stats['max_repeats']}"
    )
    if "weight_mean" in stats:
        line += f"; weight mean {stats['weight_mean']:.2f} p10 {stats['weight_p10']:.2f} p90 {stats['weight_p90']:.2f}"
    if "meta_loss" in stats:
        line += f"; meta loss {stats['meta_loss']:.4f}"
    if "hypergrad_rms" in stats:
        line += f", hypergradient RMS {stats['hypergrad_rms']:.1e}"
    if stats.get("meta_skipped"):
        line += f"; {stats['meta_skipped']} of {stats['meta_steps'] + stats['meta_skipped']} meta steps skipped"
    if "class_rates" in stats:
        line += "; class rates: " + ", ".join(f"{c} {r:.2f}" for c, r in stats["class_rates"].items())
    return line + f"; share of draws: {shares}"
