"""`spacy hamr hard-examples`: the label-error report of one training run, from
the state file the hamr.v1 batcher wrote."""

from pathlib import Path

import srsly
from typer import Argument as Arg, Option as Opt
from wasabi import msg

from ._util import hamr_cli, output_folder


@hamr_cli.command("hard-examples")
def hard_examples_cli(
    # fmt: off
    model: Path = Arg(..., help="The trained pipeline (e.g. training/model-best)", exists=True, file_okay=False),
    train_path: Path = Arg(..., help="The training corpus it was trained on (.spacy)", exists=True, dir_okay=False),
    state_path: Path = Arg(
        ..., help="The state file the hamr.v1 batcher wrote (its state_path setting)", exists=True, dir_okay=False
    ),
    output_dir: Path = Opt(
        ..., "--output", "-o", help="Where to write hard_examples.jsonl, .html, summary.json and review.jsonl"
    ),
    top_k: int = Opt(20, "--top-k", "-k", help="Examples reported per class", min=1),
    n_neighbours: int = Opt(5, "--neighbours", "-n", help="Nearest training examples shown per example", min=1),
    # fmt: on
):
    """Report the training examples likeliest to be mislabelled, per class:
    text, gold and predicted labels, the model's belief in the gold label
    over training, and nearest neighbours; for text classification, an
    estimate of the label errors per class and of their true classes. Writes
    a Prodigy file of the suspects and likely errors to fix (review.jsonl).
    """
    try:
        report = hard_examples(model, train_path, state_path, output_dir, top_k, n_neighbours)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    records, summary, _ = report
    if summary["resampled"] and summary["ranking"] == "training dynamics":
        msg.warn(
            "The state comes from a run that resampled (hamr.v1 resample = true). Resampling draws "
            "label errors more often and the model memorises them: a run with resample = false and "
            'weighting = "none" ranks them about twice as precisely (docs/label-errors.md).'
        )
    if "likely_errors" in summary:
        msg.good(
            f"About {summary['likely_errors']} likely label errors in {summary['examples']} examples, "
            f"{summary['suspects']} suspects: {output_dir / 'hard_examples.html'}"
        )
        for label, count in sorted(summary["likely_errors_per_class"].items(), key=lambda item: -item[1])[:10]:
            if count:
                msg.text(f"  about {count} in {label}")
    elif "span_suspects" in summary:
        kinds = ", ".join(f"{k} {v}" for k, v in summary["span_suspects_per_kind"].items())
        msg.good(
            f"{summary['span_suspects']} span suspects in {summary['sentences_with_suspects']} of "
            f"{summary['examples']} sentences ({kinds}): {output_dir / 'hard_examples.html'}"
        )
    else:
        msg.good(
            f"Reported {len(records)} examples in {len({r['class'] for r in records})} classes, "
            f"{sum(r['suspect'] for r in records)} suspect: {output_dir / 'hard_examples.html'}"
        )
    msg.text(f"Review and fix them: {summary['review_command']}")


def hard_examples(
    model: Path, train_path: Path, state_path: Path, output_dir: Path, top_k: int = 20, n_neighbours: int = 5
):
    """Write the report's files to output_dir; return the Report (records, summary).
    Raises ValueError, before any work, where output_dir cannot be written."""
    import spacy

    from ..corpus import read_docs
    from ..label_errors.html_page import write_html
    from ..label_errors.prodigy import write_review
    from ..label_errors.report import build_report
    from ..training.state_file import corpus_positions, read_state
    from ..util import progress

    output_dir = output_folder(output_dir)
    nlp = spacy.load(model)
    docs = read_docs(train_path, nlp.vocab)
    state = read_state(state_path)
    positions = corpus_positions(state["fingerprint"], docs, str(train_path))
    report = build_report(
        nlp,
        docs,
        state,
        positions,
        top_k,
        n_neighbours,
        progress=lambda texts: progress(texts, "Predicting", len(texts)),
    )
    srsly.write_jsonl(output_dir / "hard_examples.jsonl", report.records)
    write_html(report, output_dir / "hard_examples.html", f"Label errors in {train_path.name} ({model.name})")
    report.summary["review_command"] = write_review(report, docs, output_dir / "review.jsonl")
    srsly.write_json(output_dir / "summary.json", report.summary)
    return report
