"""`spacy hamr find-label-errors`: the cross-validated label-error audit
(K trainings of the user's config, ranked by cleanlab)."""

import time
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import srsly
import typer
from typer import Argument as Arg, Option as Opt
from wasabi import msg

from ._util import GPUS_PER_RUN, JOBS, RAY_ADDRESS, THREADS, hamr_cli, output_folder


@hamr_cli.command("find-label-errors", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def find_label_errors_cli(
    # fmt: off
    ctx: typer.Context,  # config overrides, as `spacy train` takes them: --paths.dev dev.spacy
    config_path: Path = Arg(..., help="The training config (a textcat pipeline)", exists=True, dir_okay=False),
    train_path: Path = Arg(..., help="The training corpus to audit (.spacy)", exists=True, dir_okay=False),
    output_dir: Path = Opt(
        ...,
        "--output",
        "-o",
        help="Where to write the folds' models, label_errors.jsonl, summary.json and review.jsonl",
    ),
    folds: int = Opt(5, "--folds", "-k", help="Number of folds (trainings)"),
    seed: int = Opt(0, "--seed", help="Seed of the fold split"),
    use_gpu: int = Opt(-1, "--gpu-id", "-g", help="GPU ID or -1 for CPU"),
    jobs: int = JOBS,
    threads: int = THREADS,
    gpus_per_run: float = GPUS_PER_RUN,
    ray_address: str = RAY_ADDRESS,
    # fmt: on
):
    """Train the config on K folds of the training corpus, predict every
    example with the fold model that did not see it, and rank likely label
    errors with cleanlab's confident learning (`pip install
    'spacy-hamr[audit]'`). Writes the flagged examples (label_errors.jsonl),
    estimated errors per class and from -> to (summary.json), and a Prodigy
    file to fix them (review.jsonl). Extra options override the config, as
    in `spacy train`. The folds train through the experiment engine: --jobs
    of them at once, or on a Ray cluster (--ray-address); an interrupted
    audit trains only the folds it lacks (output/ledger.jsonl).
    """
    from ..engine import make_executor

    try:
        summary = find_label_errors(
            config_path,
            train_path,
            output_dir,
            folds,
            seed,
            ctx.args,
            lambda: make_executor(jobs, threads, use_gpu, gpus_per_run, ray_address, msg.text),
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good(
        f"{summary['flagged']} likely label errors of {summary['examples']} examples: "
        f"{output_dir / 'label_errors.jsonl'}"
    )
    for label, count in sorted(summary["estimated_per_class"].items(), key=lambda item: -item[1]):
        if count:
            msg.text(f"  about {count} in {label}")
    msg.text(f"Review and fix them: {summary['review_command']}")


def find_label_errors(
    config_path: Path,
    train_path: Path,
    output_dir: Path,
    folds: int = 5,
    seed: int = 0,
    extra_args: Sequence[str] = (),
    executor: Optional[Callable] = None,
) -> Dict:
    """Run the audit; write its files to output_dir; return the summary.
    executor: makes the engine's executor once the plan is checked (default: one fold at a time here).
    Raises ValueError, before any training, for what the folds could not train."""
    from .._private_api import config_overrides
    from ..label_errors.audit import (
        finding_records,
        out_of_sample_probabilities,
        plan_audit,
        rank_label_errors,
        summary_of,
    )
    from ..label_errors.prodigy import review_command, textcat_task

    start = time.perf_counter()
    plan = plan_audit(config_path, train_path, config_overrides(list(extra_args)), folds)
    msg.info(
        f"Auditing {len(plan.docs)} examples of {train_path} in {len(plan.labels)} classes with {folds} "
        f"trainings of {config_path}"
    )
    output_dir = output_folder(output_dir)
    probs = out_of_sample_probabilities(
        plan, output_dir, folds, seed, executor() if executor else None, report=msg.text
    )
    findings = rank_label_errors(plan.gold, probs, plan.labels)
    records = finding_records(plan, probs, findings)
    srsly.write_jsonl(output_dir / "label_errors.jsonl", records)
    review = output_dir / "review.jsonl"
    srsly.write_jsonl(
        review,
        [
            textcat_task(
                plan.docs[r["index"]],
                plan.labels,
                [r["label"]],
                {"rank": r["rank"], "index": r["index"], "quality": r["quality"], "suggested": r["suggested"]},
            )
            for r in records
        ],
    )
    summary = summary_of(
        plan,
        findings,
        folds,
        time.perf_counter() - start,
        {
            "config": str(config_path),
            "train": str(train_path),
            "review_command": review_command(True, str(review), plan.labels),
        },
    )
    srsly.write_json(output_dir / "summary.json", summary)
    return summary
