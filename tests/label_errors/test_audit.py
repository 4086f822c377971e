"""`spacy hamr find-label-errors`: the cross-validated audit. What it cannot
train stops it before the first fold; a real audit of a corpus with labels
flipped in place ranks the flips first."""

import sys

import pytest
import spacy
import srsly
from spacy.cli import app
from spacy.tokens import DocBin
from thinc.api import Config
from typer.testing import CliRunner

from spacy_hamr.cli import hamr_cli  # noqa: F401 (registers the command)
from spacy_hamr.corpus import read_docs

from ..conftest import ner_examples, textcat_examples, write_corpus
from ..training.test_train_cli import init_config


def audit(tmp_path, config, train, *extra):
    return CliRunner().invoke(
        app,
        ["hamr", "find-label-errors", str(config), str(train), "--output", str(tmp_path / "audit"), *map(str, extra)],
    )


@pytest.fixture(scope="module")
def textcat_setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit")
    cfg = init_config(folder, "textcat")
    write_corpus(folder / "dev.spacy", textcat_examples(30, seed=1))
    return folder, cfg


def stops_before_training(tmp_path, result, message):
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split()), result.output
    assert not (tmp_path / "audit" / "fold_0").exists()


def test_a_corpus_without_one_category_per_example_is_named(tmp_path, textcat_setup):
    folder, cfg = textcat_setup
    docs = [eg.reference for eg in textcat_examples(40)]
    docs[7].cats = {label: 0.0 for label in docs[7].cats}
    DocBin(docs=docs).to_disk(tmp_path / "train.spacy")
    result = audit(tmp_path, cfg, tmp_path / "train.spacy", "--paths.dev", folder / "dev.spacy")
    stops_before_training(tmp_path, result, "has 0 gold categories (none)")
    assert "Example 7 of" in result.output


def test_a_class_smaller_than_the_folds_is_named(tmp_path, textcat_setup):
    folder, cfg = textcat_setup
    train = write_corpus(tmp_path / "train.spacy", textcat_examples(40, shares=(0.95, 0.05, 0.0)))
    counts = [doc.cats for doc in read_docs(train, spacy.blank("en").vocab)]
    rare = sum(c["rare"] for c in counts)
    assert rare < 5
    result = audit(tmp_path, cfg, train, "--paths.dev", folder / "dev.spacy", "--folds", 5)
    stops_before_training(tmp_path, result, f"rare ({int(rare)})")


def test_a_missing_dev_corpus_is_named(tmp_path, textcat_setup):
    _, cfg = textcat_setup
    train = write_corpus(tmp_path / "train.spacy", textcat_examples(40))
    stops_before_training(tmp_path, audit(tmp_path, cfg, train), "[paths] dev = None")


def test_a_config_that_cannot_train_is_named(tmp_path, textcat_setup):
    folder, cfg = textcat_setup
    broken = Config().from_disk(cfg, interpolate=False)
    broken["training"]["optimizer"]["learn_rate"] = "fast"
    broken.to_disk(tmp_path / "broken.cfg")
    train = write_corpus(tmp_path / "train.spacy", textcat_examples(40))
    result = audit(tmp_path, tmp_path / "broken.cfg", train, "--paths.dev", folder / "dev.spacy")
    stops_before_training(tmp_path, result, "cannot train")
    assert "learn_rate" in result.output


def test_an_ner_config_is_sent_to_the_span_report(tmp_path):
    cfg = init_config(tmp_path, "ner")
    train = write_corpus(tmp_path / "train.spacy", ner_examples(40))
    write_corpus(tmp_path / "dev.spacy", ner_examples(10, seed=1))
    result = audit(tmp_path, cfg, train, "--paths.dev", tmp_path / "dev.spacy")
    stops_before_training(tmp_path, result, "spacy hamr hard-examples")


def test_a_file_that_is_not_a_corpus_is_named(tmp_path, textcat_setup):
    folder, cfg = textcat_setup
    (tmp_path / "train.spacy").write_text("text,label\nhello,big\n")
    result = audit(tmp_path, cfg, tmp_path / "train.spacy", "--paths.dev", folder / "dev.spacy")
    stops_before_training(tmp_path, result, "is not a spaCy corpus")


def test_without_cleanlab_it_says_how_to_install_it(tmp_path, textcat_setup, monkeypatch):
    folder, cfg = textcat_setup
    train = write_corpus(tmp_path / "train.spacy", textcat_examples(40))
    monkeypatch.setitem(sys.modules, "cleanlab", None)  # import cleanlab raises ImportError
    result = audit(tmp_path, cfg, train, "--paths.dev", folder / "dev.spacy")
    stops_before_training(tmp_path, result, "pip install 'spacy-hamr[audit]'")


@pytest.fixture(scope="module")
def flipped_audit(tmp_path_factory, textcat_setup):
    """The audit of a corpus with labels flipped in place, one fold at a time."""
    from .test_report import flipped_corpus

    folder, cfg = textcat_setup
    here = tmp_path_factory.mktemp("flipped")
    flipped = flipped_corpus(here / "train.spacy")
    extra = ("--paths.dev", folder / "dev.spacy", "--folds", 3, "--training.max_epochs", 6)
    result = audit(here, cfg, here / "train.spacy", *extra, "--jobs", 1)
    return here, flipped, result, (cfg, extra)


@pytest.mark.slow
def test_the_audit_ranks_labels_flipped_in_place_first(flipped_audit):
    tmp_path, flipped, result, _ = flipped_audit
    assert result.exit_code == 0, result.output
    assert "Fold 1/3" in result.output and "Fold 3/3" in result.output and "3 runs, 0 finished already" in result.output
    ranked = list(srsly.read_jsonl(tmp_path / "audit" / "label_errors.jsonl"))
    n = len(flipped)
    top = [r["index"] for r in ranked[:n]]
    assert sum(i in flipped for i in top) >= 0.8 * n, (top, sorted(flipped))
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    found = [r for r in ranked[:n] if r["index"] in flipped]
    assert sum(r["suggested"] == flipped[r["index"]] for r in found) >= 0.8 * len(found)
    summary = srsly.read_json(tmp_path / "audit" / "summary.json")
    assert summary["folds"] == 3 and summary["examples"] == 240 and summary["flagged"] == len(ranked)
    assert sum(summary["estimated_per_class"].values()) >= 0.8 * n
    review = list(srsly.read_jsonl(tmp_path / "audit" / "review.jsonl"))
    assert [t["meta"]["index"] for t in review] == [r["index"] for r in ranked]
    assert review[0]["accept"] == [ranked[0]["label"]]
    assert all((tmp_path / "audit" / f"fold_{k}" / "model-best").exists() for k in range(3))


@pytest.mark.slow
def test_folds_trained_side_by_side_rank_as_one_at_a_time(flipped_audit, tmp_path):
    here, _, _, (cfg, extra) = flipped_audit
    result = audit(tmp_path, cfg, here / "train.spacy", *extra, "--jobs", 2)
    assert result.exit_code == 0, result.output
    assert "local: 2 run(s) at a time" in result.output
    side_by_side = list(srsly.read_jsonl(tmp_path / "audit" / "label_errors.jsonl"))
    assert side_by_side == list(srsly.read_jsonl(here / "audit" / "label_errors.jsonl"))
