"""`spacy hamr compare` through spaCy's CLI: tiny textcat and NER comparisons
(2 arms, 2 seeds), the report against the runs' own metrics, best.cfg trained by
`spacy train`, a resumed comparison, and every bad input refused before training."""

import subprocess
import sys
from statistics import mean, stdev

import pytest
import spacy
import srsly
from spacy.cli import app
from spacy.scorer import Scorer
from spacy.training import Corpus, Example
from typer.testing import CliRunner

from spacy_hamr.cli import hamr_cli  # noqa: F401 (registers the command)
from spacy_hamr.comparison.adjusted import adjusts, base_arm, dev_halves
from spacy_hamr.comparison.plan import comparison_specs, plan_comparison
from spacy_hamr.experiments.metrics import macro_f1
from spacy_hamr.experiments.variants import VARIANTS

from ..conftest import generated_corpus, textcat_examples, write_corpus
from ..training.test_train_cli import init_config


def compare(config, out, *extra):
    return CliRunner().invoke(app, ["hamr", "compare", str(config), str(out), *map(str, extra)])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    for task in ("textcat", "ner"):
        generated_corpus(folder / task, task)
        init_config(folder, task, f"{task}.cfg")
    write_corpus(folder / "textcat" / "test.spacy", textcat_examples(30, seed=2))
    return folder


def run_cli(*args) -> int:
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return result.exit_code


def said(result) -> str:
    """The command's output with wasabi's line wrapping undone."""
    return " ".join(result.output.split())


def corpus_args(folder, task):
    return ["--paths.train", folder / task / "train.spacy", "--paths.dev", folder / task / "dev.spacy"]


TINY = ["--seeds", 2, "--steps", 20, "--jobs", 2, "--threads", 1, "--training.eval_frequency", 10]


@pytest.mark.slow
def test_a_textcat_comparison_reports_what_its_runs_measured_and_resumes(inputs, tmp_path):
    out = tmp_path / "cmp"
    args = [*corpus_args(inputs, "textcat"), "--test", inputs / "textcat" / "test.spacy"]
    result = compare(inputs / "textcat.cfg", out, *args, "--arms", "baseline,oversample", *TINY)
    assert result.exit_code == 0, result.output
    assert "4 trainings: 2 arms (baseline, oversample) x 2 seeds, each 20 updates (--steps)" in said(result)
    report = srsly.read_json(out / "report.json")
    for arm in ("baseline", "oversample"):
        dev = []
        for seed in (0, 1):
            run = out / "runs" / f"{arm}_s{seed}"
            for corpus in ("dev", "test"):
                measured = macro_f1(srsly.read_json(run / f"metrics_{corpus}.json"))
                assert report["per_seed"][arm][str(seed)][corpus] == round(measured, 2)
            dev.append(report["per_seed"][arm][str(seed)]["dev"])
            assert report["per_seed"][arm][str(seed)]["updates"] == 21  # spaCy's step 0 to max_steps
        assert report["arms"][arm]["dev"] == {"mean": round(mean(dev), 2), "sd": round(stdev(dev), 2)}
    diffs = [report["per_seed"]["oversample"][s]["dev"] - report["per_seed"]["baseline"][s]["dev"] for s in "01"]
    assert report["arms"]["oversample"]["against_control"]["difference"] == round(mean(diffs), 2)
    assert report["recommended"] in report["tied_with_best"]
    assert "The choice was made on dev" in (out / "report.md").read_text()
    assert (out / "per_seed.png").stat().st_size > 5000
    # best.cfg trains as it is
    trained = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(out / "best.cfg"), "--output", str(tmp_path / "best")],
        capture_output=True,
        text=True,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (tmp_path / "best" / "model-best").is_dir()
    # one run's record lost (killed mid-training): only that one trains again
    ledger = out / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    ledger.write_text("\n".join(lines[1:]) + "\n")
    again = compare(inputs / "textcat.cfg", out, *args, "--arms", "baseline,oversample", *TINY)
    assert again.exit_code == 0, again.output
    assert "4 runs, 3 finished already" in said(again) and "1 to train" in said(again)


@pytest.mark.slow
def test_an_ner_comparison_warns_of_a_small_dev_set(inputs, tmp_path):
    result = compare(
        inputs / "ner.cfg", tmp_path, *corpus_args(inputs, "ner"), "--arms", "baseline uniform_draws", *TINY
    )
    assert result.exit_code == 0, result.output
    assert "Dev has fewer than 10 examples of" in said(result)
    report = srsly.read_json(tmp_path / "report.json")
    assert report["task"] == "ner" and set(report["arms"]) == {"baseline", "uniform_draws"}
    assert "test" not in report["arms"]["baseline"]
    assert (tmp_path / "best.cfg").exists()


@pytest.mark.parametrize(
    "task,extra,message",
    [
        ("textcat", ["--arms", "baseline,hamr_fast"], "unknown arm 'hamr_fast'"),
        ("ner", ["--arms", "baseline,baseline_adjusted"], "'baseline_adjusted' adjusts a text classifier's logits"),
        ("textcat", ["--arms", "baseline"], "name at least two different arms"),
        ("textcat", ["--seeds", 1], "--seeds 1: a paired comparison needs at least 2 seeds"),
        ("textcat", ["--paths.train", "missing.spacy"], "--paths.train 'missing.spacy': no such .spacy file"),
        ("textcat", ["--test", "missing.spacy"], "--test 'missing.spacy': no such .spacy file"),
        (
            "textcat",
            ["--paths.train", "NER_TRAIN"],
            "has no categories (doc.cats), which the config's textcat trains on",
        ),
        ("textcat", ["--steps", 0, "--training.max_epochs", 0], "give --epochs N"),
        ("textcat", ["--training.batcher.size", "many"], "does not resolve"),
    ],
)
def test_bad_input_is_refused_before_any_training(inputs, tmp_path, task, extra, message):
    extra = [inputs / "ner" / "train.spacy" if item == "NER_TRAIN" else item for item in extra]
    base = [*corpus_args(inputs, task), "--steps", 20]
    result = compare(inputs / f"{task}.cfg", tmp_path / "out", *base, *extra)
    assert result.exit_code == 1
    assert message in said(result), result.output
    assert not (tmp_path / "out" / "runs").exists()


@pytest.mark.slow
def test_an_adjusted_arm_trains_nothing_and_is_cross_fitted_on_dev(inputs, tmp_path):
    """baseline_adjusted takes baseline's models: its dev score is the adjustment chosen on each half
    of dev scoring the other (recomputed here with `spacy hamr adjust`), its test score the one chosen
    on all of dev."""
    out, data = tmp_path / "cmp", inputs / "textcat"
    args = [*corpus_args(inputs, "textcat"), "--test", data / "test.spacy", "--arms", "baseline,baseline_adjusted"]
    result = compare(inputs / "textcat.cfg", out, *args, *TINY)
    assert result.exit_code == 0, result.output
    assert "2 trainings: 1 arm (baseline) x 2 seeds" in said(result)
    assert sorted(path.name for path in (out / "runs").iterdir()) == ["baseline_s0", "baseline_s1"]
    report = srsly.read_json(out / "report.json")
    assert report["arms"]["baseline_adjusted"]["tuned_on_dev"]
    nlp = spacy.blank("en")
    dev = list(Corpus(data / "dev.spacy")(nlp))
    halves = dev_halves(dev)
    assert sorted(halves[0] + halves[1]) == list(range(len(dev))) and abs(len(halves[0]) - len(halves[1])) <= 3
    for i, half in enumerate(halves):
        write_corpus(tmp_path / f"half{i}.spacy", [dev[j] for j in half])
    for seed in "01":
        model = out / "runs" / f"baseline_s{seed}" / "model-best"
        predicted = {}
        for tuned in (0, 1):
            adjusted = tmp_path / f"adjusted_s{seed}_{tuned}"
            assert run_cli("hamr", "adjust", model, tmp_path / f"half{tuned}.spacy", adjusted) == 0
            scored = halves[1 - tuned]
            for j, doc in zip(scored, spacy.load(adjusted).pipe(dev[j].reference.text for j in scored)):
                predicted[j] = Example(doc, dev[j].reference)
        examples = [predicted[j] for j in range(len(dev))]
        crossed = Scorer.score_cats(examples, "cats", labels=["big", "mid", "rare"], multi_label=False)
        assert report["per_seed"]["baseline_adjusted"][seed]["dev"] == round(macro_f1(crossed), 2)
        adjusted = tmp_path / f"adjusted_s{seed}_all"
        assert run_cli("hamr", "adjust", model, data / "dev.spacy", adjusted) == 0
        metrics = tmp_path / f"adjusted_s{seed}.json"
        assert run_cli("evaluate", adjusted, data / "test.spacy", "--output", metrics) == 0
        assert report["per_seed"]["baseline_adjusted"][seed]["test"] == round(macro_f1(srsly.read_json(metrics)), 2)
    assert "cross-fitted" in (out / "report.md").read_text()


@pytest.mark.parametrize("arm", [name for name in VARIANTS if adjusts(name)])
def test_every_adjusted_arm_has_a_base_arm_that_trains_as_it_does(arm):
    base = VARIANTS[base_arm(arm)]
    assert base.before_to_disk is None
    assert (base.batcher, base.callback) == (VARIANTS[arm].batcher, VARIANTS[arm].callback)


def test_an_adjusted_arm_without_its_base_among_the_arms_trains_the_base_for_it(inputs):
    overrides = {
        "paths.train": str(inputs / "textcat" / "train.spacy"),
        "paths.dev": str(inputs / "textcat" / "dev.spacy"),
    }
    plan = plan_comparison(inputs / "textcat.cfg", overrides, ["oversample", "hamr_adjusted"], 2, steps=20)
    assert plan.arms == ["oversample", "hamr_adjusted"] and plan.trained == ["oversample", "hamr"]
    specs = comparison_specs(plan, inputs / "plan_only")
    assert sorted(spec.name for spec in specs) == [
        "hamr seed 0",
        "hamr seed 1",
        "oversample seed 0",
        "oversample seed 1",
    ]
    assert "hamr.logit_adjustment.v1" in plan.configs["hamr_adjusted"]  # best.cfg keeps the adjustment step
    assert "hamr.logit_adjustment.v1" not in plan.configs["hamr"]
