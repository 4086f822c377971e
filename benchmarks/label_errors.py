"""How well label errors are found: labels flipped in place in a textcat
training corpus, then every method ranks the training examples.

    python benchmarks/label_errors.py --dataset hurricane_irma_2017 --noise uniform \
        --rate 0.03 --flip-seeds 0 1 2 --out benchmarks/results/label_errors.json

Per condition (dataset, noise, rate, flip seed) it trains the config
`spacy init config -p textcat -o efficiency` makes:
- once with HAMR (both blocks, state_path set), and once recording only
  (both blocks with resample = false and weighting = "none": plain spaCy's
  shuffled epochs and unweighted losses): the single-run methods read each
  run's state file and model-best ("@hamr", "@uniform");
- K times plain on K folds of the corpus: cleanlab ranks with the out-of-sample
  probabilities (the reference).
Rate 0 is the clean control: every flag there is a false flag, or a label
error of the corpus itself.

Noise: "uniform" moves each chosen example to one of the other classes at
random; "pair" moves every chosen example of class c to one class pi(c) (pi: a
cycle through the classes in a seeded order). The examples are chosen
uniformly from the whole corpus.

Scores per method: precision and recall at N (N: the number flipped), recall
at 2N, average precision; for methods that flag, the flag's size, precision
and recall (and flags per 1,000 examples); trainings and wall time.
"""

import argparse
import time
from pathlib import Path

import numpy
import spacy
import srsly
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold
from spacy.tokens import DocBin
from spacy.training import Example

from common import DEFAULT_DATA, dataset_corpus, make_config, spacy_train
from spacy_hamr.corpus import read_docs
from spacy_hamr.experiments.planted_errors import flip_labels  # noqa: E402
from spacy_hamr.label_errors.audit import predict_probabilities  # noqa: E402
from spacy_hamr.label_errors.ranking import hardness_scores, is_suspect  # noqa: E402
from spacy_hamr.label_errors.training_dynamics import textcat_errors  # noqa: E402
from spacy_hamr.resampling.embedders import make_tfidf_embedder  # noqa: E402
from spacy_hamr.resampling.neighbors import NeighbourIndex  # noqa: E402
from spacy_hamr.training.state_file import corpus_positions, in_corpus_order, read_state  # noqa: E402

N_NEIGHBOURS = 10
# The single runs: HAMR, and the same two blocks recording only (uniform shuffled epochs, unweighted).
SINGLE_RUNS = {
    "hamr": [],
    "uniform": ["--training.batcher.resample", "false", "--training.before_update.weighting", "none"],
}


def write_corpus(docs, names, labels, path: Path) -> None:
    out = DocBin(store_user_data=False)
    for doc, y in zip(docs, labels):
        doc = doc.copy()
        doc.cats = {name: float(j == y) for j, name in enumerate(names)}
        out.add(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_disk(path)


def train(cfg: Path, out: Path, train_path: Path, dev_path: Path, epochs: int, seed: int, extra=()):
    """Train once (a finished run is reused); the seconds it took (None: not recorded)."""
    timing = out / "train_seconds.json"
    if not (out / "model-last").exists():  # written when training ends: a stopped run trains again
        start = time.perf_counter()
        spacy_train(
            cfg,
            out,
            {"paths.train": train_path, "paths.dev": dev_path, "training.max_epochs": epochs, "system.seed": seed},
            *extra,
        )
        srsly.write_json(timing, time.perf_counter() - start)
    return srsly.read_json(timing) if timing.exists() else None


def predict(model: Path, docs, names) -> numpy.ndarray:
    return predict_probabilities(spacy.load(model), docs, names)


def metrics(flipped: numpy.ndarray, score: numpy.ndarray, flags=None, rng=None) -> dict:
    """score: higher = more likely an error. Ties broken at random."""
    n = int(flipped.sum())
    score = numpy.where(numpy.isfinite(score), score, numpy.nanmin(score) - 1)  # never drawn: least suspicious
    tie = rng.random(len(score)) if rng is not None else numpy.zeros(len(score))
    order = numpy.lexsort((tie, -score))
    row = {}
    if n:
        row.update(
            precision_at_n=float(flipped[order[:n]].mean()),
            recall_at_n=float(flipped[order[:n]].sum() / n),
            recall_at_2n=float(flipped[order[: 2 * n]].sum() / n),
            average_precision=float(average_precision_score(flipped, score + 1e-9 * tie)),
        )
    if flags is not None:
        k = int(flags.sum())
        row.update(flagged=k, flags_per_1000=1000.0 * k / len(flags))
        if n:
            row.update(
                flag_precision=float(flipped[flags].mean()) if k else 0.0, flag_recall=float(flipped[flags].sum() / n)
            )
    return row


def single_run_methods(state, probs_final, labels, docs, flip_seed):
    """Every single-run method's (score, flags) from one run's state and model-best."""
    n = len(labels)
    rows = numpy.arange(n)
    errors = textcat_errors(state, labels)
    score_mean = numpy.asarray(state["score_mean"], dtype="float64")
    class_mean = numpy.array([numpy.nanmean(score_mean[labels == j, j]) for j in range(score_mean.shape[1])])
    vectors = make_tfidf_embedder()([Example(d, d) for d in docs])
    near = NeighbourIndex(vectors).search(rows, N_NEIGHBOURS + 1)
    near = [[j for j in row if j >= 0 and j != i][:N_NEIGHBOURS] for i, row in enumerate(near)]
    others = numpy.array([numpy.mean([labels[j] != labels[i] for j in row]) for i, row in enumerate(near)])
    agrees = probs_final.argmax(axis=1) == labels
    # The report before training dynamics: relative loss x hardness; suspect = model and 5 neighbours disagree.
    old_suspect = numpy.array(
        [is_suspect(str(labels[i]), [[str(labels[j])] for j in near[i]][:5], agrees[i]) for i in range(n)]
    )
    return {
        "report": (errors.score, errors.suspect),
        "report_likely": (errors.score, errors.likely),
        "previous_report": (hardness_scores(state), old_suspect),
        "aum": (-errors.margin, errors.likely),
        "datamap_hard_to_learn": (-errors.confidence - errors.variability, None),
        "first_epoch_confidence": (-state["epoch_confidence"][0], None),
        "class_normalised_confidence": (-score_mean[rows, labels] / class_mean[labels], None),
        "self_confidence_in_sample": (-probs_final[rows, labels], None),
        "hardness": (state["hardness"], None),
        "neighbours": (others, others > 0.5),
        "random": (numpy.random.default_rng(flip_seed).random(n), None),
    }


def cleanlab_methods(labels, probs):
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    flags = numpy.zeros(len(labels), dtype=bool)
    flags[find_label_issues(labels, probs)] = True
    out = {}
    for method in ("self_confidence", "normalized_margin"):
        out[f"cleanlab_{method}"] = (
            -get_label_quality_scores(labels, probs, method=method),
            flags if method == "self_confidence" else None,
        )
    return out


SUMMARY_METHODS = [
    "report@uniform",
    "report@hamr",
    "previous_report@uniform",
    "previous_report@hamr",
    "aum@uniform",
    "datamap_hard_to_learn@uniform",
    "self_confidence_in_sample@uniform",
    "neighbours@uniform",
    "random@uniform",
    "cleanlab_self_confidence",
    "find_label_errors",
]


def summarise(paths, markdown: Path) -> None:
    """Mean and standard error over flip seeds per condition, and the clean controls' flags per 1,000."""
    rows = {}
    for path in paths:
        rows.update(srsly.read_json(path))
    conditions = {}
    for key, row in rows.items():
        dataset, noise, rate, _ = key.split("/")
        conditions.setdefault((dataset, noise, rate), []).append(row)
    lines = [
        "| dataset | noise | rate | seeds | method | P@N | R@2N | AP | flag precision | flag recall | "
        "flags | flags per 1,000 clean | trainings | seconds |",
        "|" + "---|" * 14,
    ]
    controls = {dataset: rs[0] for (dataset, _, rate), rs in conditions.items() if rate == "0"}
    for (dataset, noise, rate), rs in sorted(conditions.items()):
        if rate == "0":
            continue
        for method in SUMMARY_METHODS:
            ms = [r["methods"][method] for r in rs if method in r["methods"]]
            if not ms:
                continue
            cell = {
                k: _mean_se([m[k] for m in ms if k in m])
                for k in (
                    "precision_at_n",
                    "recall_at_2n",
                    "average_precision",
                    "flag_precision",
                    "flag_recall",
                    "flagged",
                )
            }
            control = controls.get(dataset, {}).get("methods", {}).get(method, {})
            clean = f"{control['flags_per_1000']:.0f}" if "flags_per_1000" in control else "-"
            lines.append(
                f"| {dataset} | {noise} | {rate} | {len(ms)} | {method} | {cell['precision_at_n']} | "
                f"{cell['recall_at_2n']} | {cell['average_precision']} | {cell['flag_precision']} | "
                f"{cell['flag_recall']} | {cell['flagged']} | {clean} | {ms[0]['trainings']} | "
                f"{_seconds(ms)} |"
            )
    markdown.write_text("\n".join(lines) + "\n", encoding="utf8")


def _seconds(methods) -> str:
    known = [m["train_seconds"] for m in methods if m.get("train_seconds") is not None]
    return f"{sum(known) / len(known):.0f}" if known else "-"


def _mean_se(values):
    if not values:
        return "-"
    values = numpy.asarray(values, dtype="float64")
    se = values.std(ddof=1) / numpy.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{values.mean():.3f} ± {se:.3f}" if values.max() <= 1 else f"{values.mean():.0f}"


def audit_method(cfg, train_path, dev_path, out, args, flipped, rng) -> dict:
    """The audit command's own ranking (its flagged examples in rank order) and flag."""
    from spacy_hamr.cli.find_label_errors import find_label_errors

    start = time.perf_counter()
    find_label_errors(
        cfg,
        train_path,
        out,
        folds=args.folds,
        seed=0,
        extra_args=[
            "--paths.dev",
            str(dev_path),
            "--training.max_epochs",
            str(args.epochs),
            "--system.seed",
            str(args.train_seed),
        ],
    )
    seconds = time.perf_counter() - start
    ranked = [r["index"] for r in srsly.read_jsonl(out / "label_errors.jsonl")]
    score = numpy.zeros(len(flipped))
    score[ranked] = numpy.arange(len(ranked), 0, -1)
    return {**metrics(flipped, score, score > 0, rng), "trainings": args.folds, "train_seconds": seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset")
    parser.add_argument("--summarise", type=Path, nargs="+", help="result files to summarise into --markdown")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--noise", choices=["uniform", "pair"], default="uniform")
    parser.add_argument("--rate", type=float, default=0.03)
    parser.add_argument("--flip-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--skip-cleanlab", action="store_true")
    parser.add_argument(
        "--audit",
        action="store_true",
        help="also run `spacy hamr find-label-errors` (in-process folds of the plain config)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hamr_label_errors"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.summarise:
        return summarise(args.summarise, args.markdown)
    if not (args.dataset and args.out):
        parser.error("--dataset and --out (or --summarise FILES --markdown OUT)")

    work = args.work / args.dataset
    corpus = dataset_corpus(args.data / args.dataset, work)
    docs = read_docs(corpus / "train.spacy", spacy.blank("en").vocab)
    names = sorted({c for d in docs for c in d.cats})
    clean = numpy.array([names.index(max(d.cats, key=d.cats.get)) for d in docs])
    plain_cfg = make_config(work, "textcat", "baseline", {})
    hamr_cfg = make_config(work, "textcat", "hamr", {})
    results = srsly.read_json(args.out) if args.out.exists() else {}
    for flip_seed in args.flip_seeds:
        key = f"{args.dataset}/{args.noise}/{args.rate:g}/{flip_seed}"
        here = work / f"{args.noise}_{args.rate:g}_f{flip_seed}"
        labels = flip_labels(clean, len(names), args.noise, args.rate, flip_seed) if args.rate else clean.copy()
        flipped = labels != clean
        train_path = here / "train.spacy"
        write_corpus(docs, names, labels, train_path)
        rng = numpy.random.default_rng(1000 + flip_seed)
        row = {"n": len(labels), "flipped": int(flipped.sum()), "methods": {}}

        noisy_docs = read_docs(train_path, spacy.blank("en").vocab)
        for source, extra in SINGLE_RUNS.items():
            run_dir = here / source
            seconds = train(
                hamr_cfg,
                run_dir,
                train_path,
                corpus / "dev.spacy",
                args.epochs,
                args.train_seed,
                ["--training.batcher.state_path", run_dir / "state.npz", *extra],
            )
            state = read_state(run_dir / "state.npz")
            state = in_corpus_order(
                state, corpus_positions(state["fingerprint"], noisy_docs, str(train_path)), len(noisy_docs)
            )
            assert list(state["score_labels"]) == names
            probs_final = predict(run_dir / "model-best", noisy_docs, names)
            for name, (score, flags) in single_run_methods(state, probs_final, labels, noisy_docs, flip_seed).items():
                row["methods"][f"{name}@{source}"] = {
                    **metrics(flipped, score, flags, rng),
                    "trainings": 1,
                    "train_seconds": seconds,
                }

        if not args.skip_cleanlab:
            probs = numpy.full((len(labels), len(names)), numpy.nan)
            total = 0.0
            folds = StratifiedKFold(args.folds, shuffle=True, random_state=flip_seed).split(labels, labels)
            for k, (fit, held) in enumerate(folds):
                fold_train = here / f"fold{k}" / "train.spacy"
                write_corpus([docs[i] for i in fit], names, labels[fit], fold_train)
                seconds = train(
                    plain_cfg, here / f"fold{k}", fold_train, corpus / "dev.spacy", args.epochs, args.train_seed
                )
                total = None if total is None or seconds is None else total + seconds
                probs[held] = predict(here / f"fold{k}" / "model-best", [noisy_docs[i] for i in held], names)
                print(f"{key}: fold {k + 1}/{args.folds} done", flush=True)
            for name, (score, flags) in cleanlab_methods(labels, probs).items():
                row["methods"][name] = {
                    **metrics(flipped, score, flags, rng),
                    "trainings": args.folds,
                    "train_seconds": total,
                }
        if args.audit:
            row["methods"]["find_label_errors"] = audit_method(
                plain_cfg, train_path, corpus / "dev.spacy", here / "audit", args, flipped, rng
            )
        results[key] = row
        args.out.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(args.out, results)
        for name, m in row["methods"].items():
            print(
                f"{key:40s} {name:28s} P@N {m.get('precision_at_n', float('nan')):.3f} "
                f"AP {m.get('average_precision', float('nan')):.3f} flags {m.get('flagged', '-')}",
                flush=True,
            )


if __name__ == "__main__":
    main()
