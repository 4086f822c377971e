"""The `spacy hamr` commands, through spaCy's own CLI app and Typer's CliRunner."""

import pytest
import srsly
from spacy.cli import app
from spacy.tokens import DocBin
from spacy.util import registry
from typer.testing import CliRunner

from spacy_hamr.experiments.metrics import corpus_class_counts

from ..conftest import ROOT, ner_examples, textcat_examples

runner = CliRunner()


def spacy_cli(*args):
    # What `python -m spacy` does first: import the spacy_cli entry points.
    registry.cli.get_all()
    return runner.invoke(app, [str(a) for a in args])


def write_docs(path, examples):
    DocBin(docs=[eg.reference for eg in examples]).to_disk(path)
    return path


def write_dataset(folder, records_by_split):
    folder.mkdir(parents=True)
    for split, records in records_by_split.items():
        srsly.write_json(folder / f"{split}.json", records)
    return folder


def textcat_dataset(folder, n=6):
    labels = ["calm", "storm"]
    return write_dataset(
        folder,
        {
            split: [{"text": f"{split} text {i}", "label": i % 2, "label_text": labels[i % 2]} for i in range(n)]
            for split in ("train", "dev", "test")
        },
    )


def test_hamr_commands_are_in_spacys_cli():
    assert "hamr" in registry.cli.get_all()
    result = spacy_cli("hamr", "--help")
    assert result.exit_code == 0
    for command in ("make-meta", "convert", "variant-config"):
        assert command in result.output


def test_convert_one_dataset(tmp_path):
    dataset = textcat_dataset(tmp_path / "tiny")
    result = spacy_cli("hamr", "convert", dataset, tmp_path / "corpus", "--limit", 4)
    assert result.exit_code == 0, result.output
    assert "train 4, dev 4, test 4" in result.output
    assert corpus_class_counts(tmp_path / "corpus" / "train.spacy") == {"calm": 2, "storm": 2}


def test_convert_named_datasets_of_a_folder(tmp_path):
    textcat_dataset(tmp_path / "assets" / "a")
    textcat_dataset(tmp_path / "assets" / "b")
    textcat_dataset(tmp_path / "assets" / "c")
    result = spacy_cli("hamr", "convert", tmp_path / "assets", tmp_path / "corpus", "--datasets", "a c")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == ["a", "c"]


def test_convert_names_a_missing_dataset(tmp_path):
    textcat_dataset(tmp_path / "assets" / "a")
    result = spacy_cli("hamr", "convert", tmp_path / "assets", tmp_path / "corpus", "--datasets", "a,sst5")
    assert result.exit_code == 1
    assert "no dataset folder sst5" in result.output and "it holds a" in result.output


def test_convert_checks_the_input_path(tmp_path):
    result = spacy_cli("hamr", "convert", tmp_path / "nowhere", tmp_path / "corpus")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_make_meta_writes_a_disjoint_balanced_split(tmp_path):
    train = write_docs(tmp_path / "train.spacy", textcat_examples(200, seed=0))
    dev = write_docs(tmp_path / "dev.spacy", textcat_examples(40, seed=1))
    result = spacy_cli("hamr", "make-meta", train, dev, tmp_path / "out", "--seed", 3)
    assert result.exit_code == 0, result.output
    rest, meta = tmp_path / "out" / "train.spacy", tmp_path / "out" / "meta.spacy"
    n_train, n_dev = len(DocBin().from_disk(train)), len(DocBin().from_disk(dev))
    n_rest, n_meta = len(DocBin().from_disk(rest)), len(DocBin().from_disk(meta))
    assert n_meta > n_dev and n_rest + n_meta == n_train + n_dev
    assert f"Moved {n_train - n_rest} training docs: meta {n_meta}, train {n_rest}" in result.output
    dev_counts, meta_counts = corpus_class_counts(dev), corpus_class_counts(meta)
    assert meta_counts["rare"] > dev_counts["rare"]


@pytest.mark.parametrize("which", ["train", "dev"])
def test_make_meta_checks_its_paths(tmp_path, which):
    paths = {"train": tmp_path / "train.spacy", "dev": tmp_path / "dev.spacy"}
    write_docs(paths["dev" if which == "train" else "train"], ner_examples(20))
    result = spacy_cli("hamr", "make-meta", paths["train"], paths["dev"], tmp_path / "out")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_make_meta_refuses_corpora_of_different_tasks(tmp_path):
    train = write_docs(tmp_path / "train.spacy", ner_examples(30))
    dev = write_docs(tmp_path / "dev.spacy", textcat_examples(10))
    result = spacy_cli("hamr", "make-meta", train, dev, tmp_path / "out")
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # wasabi wraps long messages
    assert "the dev corpus is a textcat corpus" in output and f"dev: {dev}" in output
    assert not (tmp_path / "out").exists()


def test_variant_config(tmp_path):
    out = tmp_path / "no_boost.cfg"
    result = spacy_cli("hamr", "variant-config", ROOT / "project" / "configs" / "textcat_cnn.cfg", "hamr_no_boost", out)
    assert result.exit_code == 0, result.output
    assert "boost_weight = 0.0" in out.read_text() and '@callbacks = "hamr.v1"' in out.read_text()
    result = spacy_cli("hamr", "variant-config", ROOT / "project" / "configs" / "textcat_cnn.cfg", "focal", out)
    assert result.exit_code == 1 and "Unknown variant 'focal'" in result.output


@pytest.mark.parametrize("command", [["spacy", "hamr"], ["spacy_hamr"]])
def test_command_line_entry(command):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", *command, "make-meta", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "class-balanced meta set" in result.stdout
