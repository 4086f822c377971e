"""The comparison's report: results/summary.json, results/summary.md (beside the
paper's numbers) and PNG plots, from metrics/<backbone>/<dataset>/<run>_s<seed>.json
and the HAMR runs' per-epoch logs."""

import argparse
from pathlib import Path
from statistics import mean, pstdev

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402
import srsly  # noqa: E402

from spacy_hamr.experiments.metrics import corpus_class_counts, macro_f1, per_class_f1, smallest_class  # noqa: E402

# The paper's macro-F1 (from a secondary summary; docs/results.md): HAMR and the best baseline.
PAPER = {
    "bionlp2004": (72.7, 70.6, "Dice loss"),
    "tweetner7_2020": (60.2, 59.0, "Dice loss"),
    "mit_restaurant": (81.1, 80.4, "Dice loss"),
    "hurricane_irma_2017": (73.4, 72.7, "inverse class frequency"),
    "cyclone_idai_2019": (65.7, 63.8, "inverse class frequency"),
    "sst5": (57.0, 56.3, "inverse class frequency"),
}
RUN_ORDER = [
    "baseline",
    "hamr",
    "oversample",
    "uniform_draws",
    "baseline_adjusted",
    "hamr_adjusted",
    "sqrt_oversample",
    "inverse_freq",
    "hamr_no_resample",
    "hamr_no_meta",
    "hamr_no_boost",
    "hamr_reference",
    "hamr_global_decay",
]


def collect(metrics_dir: Path, corpus: Path):
    summary, per_class, counts = {}, {}, {}
    for dataset_dir in sorted(p for p in metrics_dir.iterdir() if p.is_dir()):
        dataset = dataset_dir.name
        counts[dataset] = corpus_class_counts(corpus / dataset / "train.spacy")
        minority = smallest_class(counts[dataset])
        by_run = {}
        for path in sorted(dataset_dir.glob("*_s*.json")):
            run = path.stem.rsplit("_s", 1)[0]
            by_run.setdefault(run, []).append(srsly.read_json(path))
        summary[dataset], per_class[dataset] = {}, {}
        for run in sorted(by_run, key=lambda r: RUN_ORDER.index(r) if r in RUN_ORDER else 99):
            rows = by_run[run]
            macros = [macro_f1(m) for m in rows]
            classes = [per_class_f1(m) for m in rows]
            summary[dataset][run] = {
                "macro_f1": round(mean(macros), 2),
                "macro_f1_std": round(pstdev(macros), 2),
                "minority_f1": round(mean(c.get(minority, 0.0) for c in classes), 2),
                "seeds": len(rows),
                "train_seconds": round(mean(m["train_seconds"] for m in rows), 1),
                # Runs trained before the project logged updates have none.
                "updates": round(mean(m["updates"] for m in rows)) if all(m.get("updates") for m in rows) else None,
            }
            per_class[dataset][run] = {label: mean(c.get(label, 0.0) for c in classes) for label in counts[dataset]}
    return summary, per_class, counts


def markdown(summary: dict, counts: dict, epochs: str) -> str:
    runs = [r for r in RUN_ORDER if any(r in s for s in summary.values())]
    head = "| dataset | smallest class | " + " | ".join(runs) + " | paper HAMR | paper best baseline |"
    lines = [
        "Test macro-F1 (mean ± std over seeds; smallest-class F1 in brackets), points.",
        "",
        head,
        "|" + "---|" * (len(runs) + 4),
    ]
    for dataset, by_run in summary.items():
        minority = smallest_class(counts[dataset])
        cells = []
        for run in runs:
            r = by_run.get(run)
            cells.append("" if r is None else f"{r['macro_f1']:.1f} ± {r['macro_f1_std']:.1f} ({r['minority_f1']:.1f})")
        paper = PAPER.get(dataset, ("", "", ""))
        lines.append(f"| {dataset} | {minority} | " + " | ".join(cells) + f" | {paper[0]} | {paper[1]} ({paper[2]}) |")
    lines += [
        "",
        "What differs from the paper: a spaCy CNN (`spacy init config -o efficiency`) instead of a "
        f"fine-tuned DeBERTa-v3-base, {epochs} on a 2-core CPU, the dev set as "
        "the meta set, and spacy-hamr's measured defaults (per-visit EMA hardness, class-balanced "
        "(textcat) or square-root (NER) base rate, a meta step every 8 (textcat) or 16 (NER) steps, "
        "a weight net that starts at uniform weights). The paper's numbers come from a secondary summary.",
    ]
    if any((r or {}).get("updates") for by_run in summary.values() for r in by_run.values()):
        lines += [
            "",
            "Updates (optimizer steps) per run, mean over seeds:",
            "",
            "| dataset | " + " | ".join(runs) + " |",
            "|" + "---|" * (len(runs) + 1),
        ]
        for dataset, by_run in summary.items():
            cells = [str((by_run.get(run) or {}).get("updates") or "") for run in runs]
            lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    lines += ["", "How to read this table: [docs/results.md](../../docs/results.md#reading-the-report)."]
    comparison = compare_hamr(summary)
    return "\n".join(lines + ([""] + [comparison] if comparison else [])) + "\n"


def compare_hamr(summary: dict) -> str:
    """HAMR against plain training and against the better of the two static
    baselines (class-balanced oversampling, inverse-frequency weights), naming
    every margin smaller than seed noise."""
    rows = {d: r for d, r in summary.items() if {"baseline", "hamr", "oversample", "inverse_freq"} <= set(r)}
    if not rows:
        return ""
    gains = {d: r["hamr"]["macro_f1"] - r["baseline"]["macro_f1"] for d, r in rows.items()}
    static = {
        d: r["hamr"]["macro_f1"] - max(r["oversample"]["macro_f1"], r["inverse_freq"]["macro_f1"])
        for d, r in rows.items()
    }
    n = len(rows)
    close = [
        f"{d} {g:+.2f} against {what}"
        for what, margins in (("plain", gains), ("the better static", static))
        for d, g in sorted(margins.items())
        if abs(g) < 1.0
    ]
    return (
        f"HAMR is at or above plain training on {sum(g >= 0 for g in gains.values())} of {n} datasets "
        f"({mean(gains.values()):+.1f} macro-F1 on average), and at or above the better static baseline "
        f"(class-balanced oversampling or inverse-frequency weights) on {sum(g >= 0 for g in static.values())} "
        f"of {n} ({mean(static.values()):+.1f} on average)."
        + (f" Margins under 1 point, the size of seed noise here: {'; '.join(close)}." if close else "")
    )


def plot_per_class(per_class: dict, counts: dict, out: Path) -> None:
    """Horizontal bars, one row per class (rarest at the top), so that long
    class names stay readable."""
    datasets = [d for d in per_class if "baseline" in per_class[d] and "hamr" in per_class[d]]
    if not datasets:
        return
    heights = [0.9 + 0.42 * len(counts[d]) for d in datasets]
    fig, axes = plt.subplots(
        len(datasets), 1, figsize=(8, sum(heights)), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for ax, dataset in zip(axes[:, 0], datasets):
        labels = sorted(counts[dataset], key=counts[dataset].get)
        y = numpy.arange(len(labels))
        for offset, run in ((-0.2, "baseline"), (0.2, "hamr")):
            ax.barh(y + offset, [per_class[dataset][run][label] for label in labels], height=0.4, label=run)
        total = sum(counts[dataset].values())
        ax.set_yticks(
            y,
            [f"{label.replace('_', ' ')} ({100 * counts[dataset][label] / total:.1f}%)" for label in labels],
            fontsize=8,
        )
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("test F1")
        ax.set_title(f"{dataset}: per-class F1, rarest class first (share of training data)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def hamr_logs(training: Path):
    for dataset_dir in sorted(p for p in training.iterdir() if p.is_dir()):
        logs = sorted(dataset_dir.glob("hamr_s*/hamr_log.jsonl"))
        if logs:
            yield dataset_dir.name, list(srsly.read_jsonl(logs[0]))


def plot_weights(training: Path, out: Path) -> None:
    logs = [(d, epochs) for d, epochs in hamr_logs(training) if any("loss_weight" in e for e in epochs)]
    if not logs:
        return
    fig, axes = plt.subplots(1, len(logs), figsize=(4 * len(logs), 3.5), squeeze=False)
    for ax, (dataset, epochs) in zip(axes[0], logs):
        for epoch in epochs:
            pairs = numpy.asarray(epoch.get("loss_weight") or [[0.0, 1.0]])
            z = (pairs[:, 0] - pairs[:, 0].mean()) / max(pairs[:, 0].std(), 1e-6)
            ax.scatter(z, pairs[:, 1], s=4, alpha=0.5, label=f"epoch {epoch['epoch']}")
        ax.set_xlabel("loss, z-scored")
        ax.set_ylabel("learned weight")
        ax.set_title(dataset, fontsize=9)
    axes[0][0].legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_sampling(training: Path, counts: dict, out: Path) -> None:
    logs = list(hamr_logs(training))
    if not logs:
        return
    fig, axes = plt.subplots(1, len(logs), figsize=(4.5 * len(logs), 3.5), squeeze=False)
    for ax, (dataset, epochs) in zip(axes[0], logs):
        total = sum(counts[dataset].values())
        for label in sorted(counts[dataset], key=counts[dataset].get)[:5]:
            line = ax.plot(
                [e["epoch"] for e in epochs],
                [100 * e["class_share"].get(label, 0.0) for e in epochs],
                marker="o",
                label=label,
            )[0]
            ax.axhline(100 * counts[dataset][label] / total, color=line.get_color(), linestyle=":")
        ax.set_xlabel("epoch")
        ax.set_ylabel("% of draws (dotted: % of corpus)")
        ax.set_title(f"{dataset}: 5 rarest classes", fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="cnn")
    parser.add_argument("--metrics", type=Path, default=Path("metrics"))
    parser.add_argument("--training", type=Path, default=Path("training"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--epochs-textcat", type=int, default=8)
    parser.add_argument("--epochs-ner", type=int, default=3)
    args = parser.parse_args()
    summary, per_class, counts = collect(args.metrics / args.backbone, args.corpus)
    args.out.mkdir(parents=True, exist_ok=True)
    srsly.write_json(args.out / "summary.json", summary)
    srsly.write_json(args.out / "per_class_f1.json", per_class)
    epochs = f"{args.epochs_textcat} epochs (textcat) / {args.epochs_ner} epochs (NER)"
    (args.out / "summary.md").write_text(markdown(summary, counts, epochs))
    training = args.training / args.backbone
    plot_per_class(per_class, counts, args.out / "per_class_f1.png")
    plot_weights(training, args.out / "weight_vs_loss.png")
    plot_sampling(training, counts, args.out / "sampling_share.png")
    print((args.out / "summary.md").read_text())


if __name__ == "__main__":
    main()
