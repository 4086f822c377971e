"""What a comparison writes: report.json (everything), report.md (the tables),
per_seed.png (each arm's per-seed scores with means and standard errors) and
best.cfg (the recommended arm's config, ready for `spacy train`)."""

import math
from pathlib import Path
from typing import Dict, List

import srsly

from .plan import ComparisonPlan


def write_report(output_dir: Path, plan: ComparisonPlan, scores: Dict, result: Dict, seconds: Dict) -> List[Path]:
    """The report's files; returns those written (the plot needs matplotlib)."""
    report = {
        "task": plan.task,
        "corpora": {name: str(path) for name, path in plan.corpora.items()},
        "seeds": plan.seeds,
        "updates": plan.updates,
        "budget": plan.budget_note,
        "chosen_on": "dev",
        **result,
        "per_seed": scores,
        "train_counts": plan.train_counts,
        "dev_counts": plan.dev_counts,
        "seconds": seconds,
    }
    written = [output_dir / "report.json", output_dir / "report.md", output_dir / "best.cfg"]
    srsly.write_json(written[0], report)
    written[1].write_text(markdown(plan, report), encoding="utf8")
    written[2].write_text(plan.configs[result["recommended"]], encoding="utf8")
    plot = per_seed_plot(output_dir / "per_seed.png", plan, scores)
    return written + ([plot] if plot else [])


def _signed(paired) -> str:
    if paired is None:
        return ""
    if paired["se"] is None:
        return f"{paired['difference']:+.1f}"
    return f"{paired['difference']:+.1f} ± {paired['se']:.1f} ({paired['verdict']})"


def markdown(plan: ComparisonPlan, report: Dict) -> str:
    test = "test" in plan.corpora
    control, smallest = report["control"], report["smallest_class"]
    lines = [
        f"# Which method on {plan.corpora['train'].name}: {len(plan.arms)} arms, {len(plan.seeds)} seeds",
        "",
        f"- Every arm trained {plan.budget_note}; seeds {', '.join(map(str, plan.seeds))}.",
        f"- Scores are macro-F1 of model-best, in points. The arms are compared on dev ({plan.corpora['dev']}), "
        "paired by seed: the difference's mean ± its standard error; within two standard errors is a tie.",
        f"- The smallest training class is {smallest} ({plan.train_counts[smallest]} examples).",
    ]
    if test:
        lines.append(f"- The choice was made on dev; test ({plan.corpora['test']}) is reported beside, not used.")
    lines += [
        "",
        f"**Recommended: {report['recommended']}**, the cheapest of the arms tied with the best on dev "
        f"({', '.join(report['tied_with_best'])}; best: {report['best']}).",
        "",
    ]
    if report["recommended"] != report["best"]:
        gap = report["arms"][report["recommended"]]["against_best"]
        lines += [
            f"It is {_signed(gap)} from {report['best']} on dev: the seeds cannot tell them apart at this "
            "size. More seeds (`--seeds`) narrow the standard error as the square root of their number.",
            "",
        ]
    tuned = [arm for arm in plan.arms if report["arms"][arm]["tuned_on_dev"]]
    if tuned:
        lines += [
            f"{', '.join(tuned)} train nothing: each logit-adjusts its base arm's models, seed for seed. The "
            "adjustment is chosen on dev, so its dev score is cross-fitted: chosen on each half of dev (split "
            "class by class), scored on the other. Its test score takes the adjustment chosen on all of dev, "
            "as best.cfg does.",
            "",
        ]
    header = "| arm | dev | vs " + control + " | vs best | smallest class (dev) |"
    rule = "|---|---:|---:|---:|---:|"
    if test:
        header += " test | smallest class (test) |"
        rule += "---:|---:|"
    lines += [header + " updates | seconds a run |", rule + "---:|---:|"]
    for arm in plan.arms:
        row = report["arms"][arm]
        cells = [
            arm,
            f"{row['dev']['mean']:.1f} ± {row['dev']['sd']:.1f}",
            _signed(row["against_control"]),
            _signed(row["against_best"]),
            f"{row['smallest_class_dev']:.1f}",
        ]
        if test:
            cells += [f"{row['test']['mean']:.1f} ± {row['test']['sd']:.1f}", f"{row['smallest_class_test']:.1f}"]
        cells += [", ".join(map(str, row["updates"])), f"{row['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "(dev and test: mean ± standard deviation over the seeds)", "", "## Per seed", ""]
    lines += ["| arm | " + " | ".join(f"seed {s}" for s in plan.seeds) + " |", "|---|" + "---:|" * len(plan.seeds)]
    for arm in plan.arms:
        cells = []
        for seed in plan.seeds:
            row = report["per_seed"][arm][str(seed)]
            cells.append(f"{row['dev']:.1f}" + (f" (test {row['test']:.1f})" if test else ""))
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    labels = sorted(plan.train_counts, key=lambda label: plan.train_counts[label])
    lines += ["", "## Per class (dev F1, mean over the seeds)", ""]
    lines += ["| class | train | dev | " + " | ".join(plan.arms) + " |", "|---|---:|---:|" + "---:|" * len(plan.arms)]
    for label in labels:
        cells = [
            f"{sum(r['dev_per_class'].get(label, 0.0) for r in report['per_seed'][arm].values()) / len(plan.seeds):.1f}"
            for arm in plan.arms
        ]
        lines.append(
            f"| {label} | {plan.train_counts[label]} | {plan.dev_counts.get(label, 0)} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def per_seed_plot(path: Path, plan: ComparisonPlan, scores: Dict):
    """Each arm's per-seed dev (and test) scores, their mean and standard error; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    corpora = [name for name in ("dev", "test") if name in plan.corpora]
    fig, axes = plt.subplots(1, len(corpora), figsize=(4 + 1.2 * len(plan.arms) * len(corpora), 4), squeeze=False)
    for ax, corpus in zip(axes[0], corpora):
        for x, arm in enumerate(plan.arms):
            values = [scores[arm][str(seed)][corpus] for seed in plan.seeds]
            mean = sum(values) / len(values)
            se = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))
            ax.scatter([x] * len(values), values, alpha=0.6, color="tab:blue")
            ax.errorbar([x + 0.15], [mean], yerr=[se], fmt="o", color="black", capsize=4)
        ax.set_xticks(range(len(plan.arms)))
        ax.set_xticklabels(plan.arms, rotation=30, ha="right")
        ax.set_ylabel(f"{corpus} macro-F1")
        ax.set_title(f"{corpus}: per seed, mean ± SE")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
