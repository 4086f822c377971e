"""run_matrix's plan: runs per task, seeds per task, epochs per task or dataset, a run's size."""

import argparse
import importlib.util

import pytest
import spacy
import srsly
from spacy.tokens import DocBin

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("run_matrix", ROOT / "project" / "scripts" / "run_matrix.py")
run_matrix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_matrix)


@pytest.fixture
def assets(tmp_path):
    for dataset in ("tweets", "food"):
        (tmp_path / dataset).mkdir()
    srsly.write_json(tmp_path / "tweets" / "dev.json", [{"text": "help", "label": 0, "label_text": "need"}])
    srsly.write_jsonl(tmp_path / "food" / "dev.json", [{"tokens": ["pizza"], "ner_tags": ["B-Dish"]}])
    return tmp_path


def test_epochs_per_task_and_per_dataset(assets):
    epochs = run_matrix.parse_epochs(["textcat=8", "ner=8", "food=5"], assets)
    args = argparse.Namespace(epochs=epochs)
    assert run_matrix.epochs_of(args, "tweets", "textcat") == 8
    assert run_matrix.epochs_of(args, "food", "ner") == 5
    with pytest.raises(ValueError, match="no number for food"):
        run_matrix.epochs_of(argparse.Namespace(epochs={"textcat": 8}), "food", "ner")


@pytest.mark.parametrize(
    "item,message",
    [("textcat", "TASK=N or DATASET=N"), ("ner=0", ">= 1"), ("fod=5", "'fod' is neither a task")],
)
def test_bad_epochs_are_named(assets, item, message):
    with pytest.raises(ValueError, match=message):
        run_matrix.parse_epochs([item], assets)


def test_runs_and_seeds_per_task(assets, tmp_path):
    args = argparse.Namespace(
        datasets=["tweets", "food"],
        assets=assets,
        runs=["baseline", "hamr"],
        textcat_runs=["oversample", "baseline_adjusted"],
        ner_runs=["uniform_draws"],
        seeds=[0, 1, 2],
        ner_seeds=[0, 1],
        epochs={"textcat": 8, "ner": 5},
    )
    planned = run_matrix.planned_runs(args)
    textcat = [(r, s) for d, r, s in planned if d == "tweets"]
    ner = [(r, s) for d, r, s in planned if d == "food"]
    assert len(textcat) == 3 * 4
    assert sorted(ner) == sorted((r, s) for r in ("baseline", "hamr", "uniform_draws") for s in (0, 1))


def test_train_tokens_counts_the_training_corpus(tmp_path):
    nlp = spacy.blank("en")
    (tmp_path / "tweets").mkdir()
    DocBin(docs=[nlp("need water now"), nlp("help")]).to_disk(tmp_path / "tweets" / "train.spacy")
    assert run_matrix.train_tokens(tmp_path, "tweets") == 4
