"""The hamr.eval_log.v1 logger: one line per evaluation, and the number of updates."""

import pytest
import spacy
from spacy.util import registry

from spacy_hamr.training.eval_log import read_eval_log


def info(step, score):
    return {
        "epoch": 0,
        "step": step,
        "score": score,
        "words": 10 * step,
        "seconds": 1,
        "other_scores": {"ents_f": score, "ents_per_type": {"LOC": {"p": 1.0, "r": 0.5, "f": 0.67}}},
        "losses": {},
        "checkpoints": [],
    }


def test_every_update_is_counted_and_every_evaluation_kept(tmp_path):
    setup = registry.loggers.get("hamr.eval_log.v1")(path=tmp_path / "logs" / "eval.jsonl")
    log_step, finalize = setup(spacy.blank("en"))
    for step in range(7):
        log_step(info(step, 0.1 * step) if step % 3 == 0 else None)  # spaCy: info at evaluations only
    finalize()
    rows, updates = read_eval_log(tmp_path / "logs" / "eval.jsonl")
    assert updates == 7
    assert [r["step"] for r in rows] == [0, 3, 6]
    assert rows[1]["scores"]["ents_per_type"]["LOC"]["f"] == 0.67


def test_an_unfinished_run_has_no_count(tmp_path):
    log_step, _ = registry.loggers.get("hamr.eval_log.v1")(path=tmp_path / "eval.jsonl")(spacy.blank("en"))
    log_step(info(0, 0.0))
    assert read_eval_log(tmp_path / "eval.jsonl")[1] is None


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        registry.loggers.get("hamr.eval_log.v1")(path=tmp_path)
