"""The hamr.stats_logger.v1 logger: HAMR's statistics in each evaluation's
`info`, summarising the steps since the previous one; and, through a real
`spacy train`, in a real MLflow store by spacy-loggers' MLflow logger."""

import io
import json
import re
from collections import Counter

import pytest
from spacy.tokens import DocBin
from spacy.util import load_config, load_model_from_config, registry
from thinc.api import Config, fix_random_seed

from spacy_hamr.training.batcher import configure_hamr_batcher
from spacy_hamr.training.callback import make_hamr_callback
from spacy_hamr.training.stats_logger import metric_name

from ..conftest import generated_corpus, textcat_examples
from ..pipelines import trained_pipeline

SUMMARY_KEYS = ["weight_mean", "weight_p10", "weight_p90", "meta_loss", "hypergrad_rms", "meta_steps", "meta_skipped"]
MID_EPOCH_EVALUATION = 2


def shares(batches):
    """Each class's share of the examples of `batches` (textcat: the gold category)."""
    counts = Counter(label for batch in batches for eg in batch for label, v in eg.reference.cats.items() if v >= 0.5)
    n = sum(len(batch) for batch in batches)
    return {label: counts[label] / n for label in counts}


def run_with_logger(tmp_path, epochs=2):
    """spaCy's training loop in miniature, with the logger called once per step:
    an evaluation at step MID_EPOCH_EVALUATION and at the last step of each epoch.
    Returns (each evaluation's info, its step, the batches trained on by step)."""
    nlp, examples, _, _ = trained_pipeline("textcat_bow", n=120, steps=2)
    nlp.config["training"]["batcher"] = {"@batchers": "hamr.v1", "size": 60}
    DocBin(docs=[eg.reference for eg in textcat_examples(30, seed=5)]).to_disk(tmp_path / "meta.spacy")
    fix_random_seed(0)
    batcher = configure_hamr_batcher(size=60, seed=0, log_path=tmp_path / "log.jsonl")
    callback = make_hamr_callback(meta_path=tmp_path / "meta.spacy", meta_every=2, seed=0)
    log_step, finalize = registry.loggers.get("hamr.stats_logger.v1")()(nlp)
    optimizer = nlp.resume_training()
    trained, evaluations, step, logged = [], [], 0, -1  # logged: the last step the logger was called for

    def evaluate(at):
        evaluations.append(({"score": 0.5}, at))
        log_step(evaluations[-1][0])
        return at

    for epoch in range(epochs):
        for batch in batcher(examples):
            if logged < step - 1:  # the previous step was not the epoch's last: no evaluation
                log_step(None)
                logged = step - 1
            callback(nlp, {"step": step, "epoch": epoch})
            trained.append(list(batch))
            nlp.update(batch, sgd=optimizer, losses={})
            if step == MID_EPOCH_EVALUATION:
                logged = evaluate(step)
            step += 1
        logged = evaluate(step - 1)  # the epoch's last step
    finalize()
    return evaluations, trained


def test_each_evaluation_summarises_the_steps_since_the_previous_one(tmp_path):
    evaluations, trained = run_with_logger(tmp_path)
    epochs = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(evaluations) == 3 and len(epochs) == 2
    first_epoch_end = evaluations[1][1]
    for info, _ in evaluations:
        assert info["score"] == 0.5  # spaCy's keys stay
        assert {k for k in info if k != "score"} == {f"hamr.class_share.{c}" for c in ("big", "mid", "rare")} | {
            f"hamr.{key}" for key in SUMMARY_KEYS
        }
    # Mid-epoch: the draws and meta steps of steps 0..2, then those of the rest of the epoch.
    mid, end = evaluations[0][0], evaluations[1][0]
    assert {c: mid[f"hamr.class_share.{c}"] for c in ("big", "mid", "rare")} == pytest.approx(
        shares(trained[: MID_EPOCH_EVALUATION + 1])
    )
    assert {c: end[f"hamr.class_share.{c}"] for c in ("big", "mid", "rare")} == pytest.approx(
        shares(trained[MID_EPOCH_EVALUATION + 1 : first_epoch_end + 1])
    )
    assert mid["hamr.meta_steps"] + mid["hamr.meta_skipped"] == 2  # steps 0 and 2 (meta_every 2)
    meta_steps = len(range(MID_EPOCH_EVALUATION + 2, first_epoch_end + 1, 2))
    assert end["hamr.meta_steps"] + end["hamr.meta_skipped"] == meta_steps
    # From one epoch's end to the next: what the batcher's epoch log has.
    last, epoch = evaluations[2][0], epochs[1]
    assert {c: last[f"hamr.class_share.{c}"] for c in ("big", "mid", "rare")} == pytest.approx(
        epoch["class_share"], abs=1e-9
    )
    assert {key: last[f"hamr.{key}"] for key in SUMMARY_KEYS} == pytest.approx(
        {key: epoch[key] for key in SUMMARY_KEYS}, abs=1e-9
    )


def test_a_config_without_the_hamr_batcher_is_refused():
    nlp, _, _, _ = trained_pipeline("textcat_bow", steps=1)
    with pytest.raises(ValueError, match=r"\[training.batcher\] is 'spacy.batch_by_words.v1': set @batchers"):
        registry.loggers.get("hamr.stats_logger.v1")()(nlp)


def test_class_names_become_metric_names():
    assert metric_name("(no label)") == "_no label_"
    assert metric_name("B-PER") == "B-PER" and metric_name("food/drink: hot") == "food_drink_ hot"


@pytest.mark.slow
def test_mlflow_gets_the_statistics_of_every_evaluation(tmp_path, monkeypatch):
    """`spacy train` with the logger chained before spacy-loggers' MLflow logger:
    the run in a local MLflow store has every hamr.* series, one value per
    evaluation; the console table is spaCy's own."""
    from mlflow.tracking import MlflowClient

    from spacy_hamr.experiments.variants import variant_config

    from .test_train_cli import init_config, train_result

    data = generated_corpus(tmp_path / "corpus", "textcat", n_train=150)
    cfg = init_config(tmp_path, "textcat")
    config = variant_config(Config().from_disk(cfg, interpolate=False), "hamr")
    config["training"]["logger"] = {
        "@loggers": "spacy.ChainLogger.v1",
        "logger1": {"@loggers": "hamr.stats_logger.v1"},
        "logger2": {"@loggers": "spacy.MLflowLogger.v2", "run_name": "hamr", "log_custom_stats": ["hamr.*"]},
        "logger3": {"@loggers": "spacy.ConsoleLogger.v1", "progress_bar": False},
    }
    config.to_disk(cfg)
    store = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # for spacy train and the client here
    # mlflow-skinny's local file store opens only when allowed (the full package's SQLite store is not in it).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    overrides = [
        "--training.max_epochs",
        "2",
        "--training.eval_frequency",
        "4",
        "--training.before_update.meta_every",
        "2",
    ]
    result = train_result(cfg, data, *overrides, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs(experiment_ids=["0"])
    evaluations = len(client.get_metric_history(run.info.run_id, "score"))
    names = {f"hamr.class_share.{c}" for c in ("big", "mid", "rare")} | {f"hamr.{key}" for key in SUMMARY_KEYS}
    assert {key for key in run.data.metrics if key.startswith("hamr.")} == names
    series = {name: [m.value for m in client.get_metric_history(run.info.run_id, name)] for name in names}
    assert evaluations >= 5 and all(len(values) == evaluations for values in series.values()), series
    for k in range(evaluations):  # every draw has one category
        assert sum(series[f"hamr.class_share.{c}"][k] for c in ("big", "mid", "rare")) == pytest.approx(1.0)
    assert all(steps >= 1 for steps in series["hamr.meta_steps"])

    # spaCy's console table: the header spaCy's ConsoleLogger writes for this pipeline, one row per evaluation.
    out = io.StringIO()
    nlp = load_model_from_config(load_config(cfg), auto_fill=True)
    registry.get("loggers", "spacy.ConsoleLogger.v1")(progress_bar=False)(nlp, out, out)
    header = out.getvalue().splitlines()
    lines = result.stdout.splitlines()
    start = lines.index(header[0])
    assert lines[start : start + 2] == header[:2]
    rows = [line for line in lines[start + 2 :] if re.fullmatch(r"\s*\d+\s+\d+(\s+\d+\.\d\d)+", line)]
    assert len(rows) == evaluations and all(len(row.split()) == len(header[1].split()) for row in rows)
