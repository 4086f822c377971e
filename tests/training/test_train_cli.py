"""Real `spacy train` runs through the CLI, with configs made by `spacy init config`
and only the batcher swapped, on slices of the paper's datasets."""

import subprocess
import sys

import pytest
from spacy.cli.init_config import init_config as spacy_init_config
from spacy.util import load_config
from thinc.api import Config

from ..conftest import generated_corpus

pytestmark = pytest.mark.slow


def spacy_cli(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "spacy", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def init_config(tmp_path, pipeline, name="config.cfg"):
    """The file `spacy init config NAME -p PIPELINE -o efficiency` writes, made by
    the command's own function in this process: the command itself would start an
    interpreter that loads every entry point (20 s on a loaded 2-core machine)."""
    path = tmp_path / name
    spacy_init_config(lang="en", pipeline=[pipeline], optimize="efficiency", gpu=False, silent=True).to_disk(
        path, interpolate=False
    )
    return path


def swap_batcher(path, block=None):
    """Change only @batchers (or set the whole block, for batch_by_padded's keys)."""
    if block is None:
        text = path.read_text()
        path.write_text(text.replace('@batchers = "spacy.batch_by_words.v1"', '@batchers = "hamr.v1"'))
    else:
        config = Config().from_disk(path, interpolate=False)
        config["training"]["batcher"] = block
        config.to_disk(path)
    assert load_config(path)["training"]["batcher"]["@batchers"] == "hamr.v1"


def train(cfg, data, output, *overrides):
    return spacy_cli(
        "train",
        cfg,
        "--output",
        output,
        "--paths.train",
        data / "train.spacy",
        "--paths.dev",
        data / "dev.spacy",
        *overrides,
        cwd=cfg.parent,
    )


def test_textcat_config_trains_with_only_the_batcher_swapped(tmp_path, idai_slice):
    cfg = init_config(tmp_path, "textcat")
    swap_batcher(cfg)
    log = train(cfg, idai_slice, tmp_path / "out", "--training.max_epochs", "2")
    assert "[hamr] epoch 0: 360 draws" in log and "[hamr] epoch 1: 360 draws" in log
    assert (tmp_path / "out" / "model-last" / "textcat").exists()


def test_same_seed_same_draws_and_same_model(tmp_path, idai_slice):
    cfg = init_config(tmp_path, "textcat")
    swap_batcher(cfg)
    runs = []
    for name in ("a", "b"):
        log = train(cfg, idai_slice, tmp_path / name, "--training.max_epochs", "1")
        draws = [line for line in log.splitlines() if line.startswith("[hamr] epoch")]
        weights = (tmp_path / name / "model-last" / "textcat" / "model").read_bytes()
        runs.append((draws, weights))
    assert len(runs[0][0]) == 1 and runs[0] == runs[1]


def test_ner_config_with_batch_by_padded_keys(tmp_path, mit_slice):
    cfg = init_config(tmp_path, "ner")
    # the keys of spacy.batch_by_padded.v1, as the transformer template has them
    swap_batcher(
        cfg, {"@batchers": "hamr.v1", "size": 2000, "buffer": 256, "discard_oversize": False, "get_length": None}
    )
    log = train(cfg, mit_slice, tmp_path / "out", "--training.max_epochs", "1")
    assert "[hamr] epoch 0: 240 draws" in log
    assert "Location" in log  # NER class shares name the entity types


def train_result(cfg, data, *overrides, **run_kwargs) -> subprocess.CompletedProcess:
    """`spacy train` of cfg on data/{train,dev}.spacy, its result to check (run_kwargs: subprocess.run's)."""
    paths = ["--paths.train", str(data / "train.spacy"), "--paths.dev", str(data / "dev.spacy")]
    command = [sys.executable, "-m", "spacy", "train", str(cfg), *paths, *map(str, overrides)]
    return subprocess.run(command, capture_output=True, text=True, **run_kwargs)


def train_generated_textcat(tmp_path, *overrides) -> subprocess.CompletedProcess:
    """`spacy train` of the textcat config with the batcher swapped, on a generated corpus."""
    data = generated_corpus(tmp_path / "corpus", "textcat")
    cfg = init_config(tmp_path, "textcat")
    swap_batcher(cfg)
    return train_result(cfg, data, *overrides)


def test_streaming_corpus_fails_with_a_clear_message(tmp_path):
    result = train_generated_textcat(tmp_path, "--training.max_epochs", "-1", "--training.max_steps", "5")
    assert result.returncode != 0
    assert "streaming corpus" in result.stderr and "max_epochs" in result.stderr


def test_bad_setting_fails_before_training(tmp_path):
    result = train_generated_textcat(tmp_path, "--training.batcher.alpha", "-1")
    assert result.returncode != 0
    assert "alpha must be >= 0" in result.stdout + result.stderr
    assert "E    #" not in result.stdout  # the training table never started
