"""`spacy hamr compare`: which imbalance method wins on the user's own data,
answered with paired seeds at equal updates, and a config ready to train."""

import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import typer
from typer import Argument as Arg, Option as Opt
from wasabi import msg

from ._util import GPUS_PER_RUN, JOBS, RAY_ADDRESS, THREADS, hamr_cli, output_folder


@hamr_cli.command("compare", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def compare_cli(
    # fmt: off
    ctx: typer.Context,  # config overrides, as `spacy train` takes them: --paths.train train.spacy
    config_path: Path = Arg(
        ..., help="The training config (textcat or ner; plain or with the HAMR blocks)", exists=True, dir_okay=False
    ),
    output_dir: Path = Arg(
        ..., help="Where to write the runs, ledger.jsonl, report.md, report.json, per_seed.png and best.cfg"
    ),
    arms: str = Opt(
        "",
        "--arms",
        help="Arms to compare, by variant name, comma- or space-separated (default for textcat: baseline, oversample, hamr, baseline_adjusted, hamr_adjusted; for ner: baseline, oversample, hamr, uniform_draws)",
    ),
    seeds: int = Opt(3, "--seeds", help="Seeds per arm (0 to N-1), at least 2"),
    test_path: Optional[Path] = Opt(
        None, "--test", help="A held-out .spacy corpus, scored beside dev (the choice stays on dev)"
    ),
    epochs: int = Opt(
        0,
        "--epochs",
        help="The budget: this many epochs of plain training, as updates for every arm (default: the config's max_epochs)",
    ),
    steps: int = Opt(0, "--steps", help="The budget as a number of updates for every arm (instead of --epochs)"),
    use_gpu: int = Opt(-1, "--gpu-id", "-g", help="GPU ID or -1 for CPU"),
    jobs: int = JOBS,
    threads: int = THREADS,
    gpus_per_run: float = GPUS_PER_RUN,
    ray_address: str = RAY_ADDRESS,
    # fmt: on
):
    """Train each arm (a variant of the config: plain, the batcher alone, HAMR,
    logit adjustment...) with the same seeds and the same number of updates,
    compare them on dev paired by seed, and recommend the cheapest arm tied
    with the best (a margin within two standard errors is a tie). Writes
    report.md, report.json, per_seed.png and best.cfg. Extra options override
    the config, as in `spacy train`. An interrupted comparison resumes where
    it stopped (OUTPUT_DIR/ledger.jsonl)."""
    from .._private_api import config_overrides
    from ..engine import make_executor

    try:
        result = compare(
            config_path,
            output_dir,
            config_overrides(list(ctx.args)),
            arms.replace(",", " ").split(),
            seeds,
            test_path,
            epochs,
            steps,
            lambda: make_executor(jobs, threads, use_gpu, gpus_per_run, ray_address, msg.text),
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    msg.good(f"Recommended: {result['recommended']}. Train it: python -m spacy train {output_dir / 'best.cfg'}")
    msg.text(f"Report: {output_dir / 'report.md'}")


def compare(
    config_path: Path,
    output_dir: Path,
    overrides: Dict,
    arms: Sequence[str] = (),
    seeds: int = 3,
    test_path: Optional[Path] = None,
    epochs: int = 0,
    steps: int = 0,
    executor=None,
) -> Dict:
    """Plan, train and report a comparison; return its verdict. Raises ValueError before any
    training for what the runs could not train. executor: makes the engine's executor."""
    from ..comparison.adjusted import adjusted_scores, adjusts, base_arm
    from ..comparison.plan import comparison_specs, plan_comparison, small_dev_classes
    from ..comparison.report import write_report
    from ..comparison.verdict import per_seed_scores, verdict
    from ..engine import Ledger, make_executor, run_specs

    start = time.perf_counter()
    plan = plan_comparison(config_path, overrides, arms, seeds, test_path, steps, epochs)
    output_dir = output_folder(output_dir)
    specs = comparison_specs(plan, output_dir)
    msg.info(
        f"{len(specs)} trainings: {len(plan.trained)} arm{'s' * (len(plan.trained) > 1)} ({', '.join(plan.trained)}) "
        f"x {len(plan.seeds)} seeds, "
        f"each {plan.budget_note}"
    )
    for arm in plan.arms:
        if adjusts(arm):
            msg.text(f"{arm} trains nothing: it logit-adjusts the models of {base_arm(arm)}, seed for seed.")
    small = small_dev_classes(plan)
    if small:
        msg.warn(
            f"Dev has fewer than 10 examples of {', '.join(small)}: their F1 moves by whole points with one "
            "example, and arms that differ there may not be told apart."
        )
    records = run_specs(
        specs,
        executor() if executor else make_executor(say=msg.text),
        Ledger(output_dir / "ledger.jsonl"),
        say=msg.text,
    )
    results = {arm: {} for arm in (*plan.trained, *plan.arms)}
    for spec in specs:
        record = records[spec.key]
        results[record["arm"]][record["seed"]] = {
            "metrics": record["metrics"],
            "updates": record["updates"],
            "seconds": record["train_seconds"] + record["evaluate_seconds"],
            "model": spec.output / "model-best",
        }
    runs_seconds = sum(result["seconds"] for by_seed in results.values() for result in by_seed.values())
    for arm in plan.arms:
        if adjusts(arm):
            msg.text(f"{arm}: adjusting the models of {base_arm(arm)}")
            for seed, base in results[base_arm(arm)].items():
                adjusted = adjusted_scores(base["model"], plan.corpora)
                results[arm][seed] = {
                    **base,
                    "metrics": adjusted["metrics"],
                    "seconds": base["seconds"] + adjusted["seconds"],
                }
    scores = per_seed_scores(plan, results)
    result = verdict(plan, scores)
    seconds = {"runs": round(runs_seconds, 1), "wall": round(time.perf_counter() - start, 1)}
    write_report(output_dir, plan, scores, result, seconds)
    return result
