"""HAMR on a real GPU: skipped without a CUDA device (`pytest -m gpu` runs
only these). On generated corpora and a random-weights transformer, so that
they need no dataset and no model download."""

import json
from pathlib import Path

import numpy
import pytest
from thinc.api import Config, NumpyOps, require_gpu, set_current_ops
from thinc.util import gpu_is_available

from spacy_hamr.experiments.variants import variant_config
from spacy_hamr.meta_weighting.lookahead import hypergradient
from spacy_hamr.training.callback import make_loss_pass

from .conftest import ROOT, generated_corpus
from .meta_weighting.test_hypergradient import INNER_LR, brute_force
from .pipelines import trained_pipeline
from .test_device import tiny_transformer_pipeline, transformer_passes
from .tiny_transformer import save_tiny_bert
from .training.test_callback_cli import train_with_meta_steps
from .training.test_train_cli import init_config

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpu_is_available(), reason="needs a CUDA GPU (and cupy)")]


@pytest.fixture
def on_gpu():
    require_gpu(0)
    yield
    set_current_ops(NumpyOps())


@pytest.mark.parametrize("kind", ["textcat_cnn", "ner"])
def test_hypergradient_matches_brute_force_on_gpu(on_gpu, kind):
    nlp, examples, book, params = trained_pipeline(kind)
    batch, meta_batch = examples[:12], examples[30:46]
    _, estimate, _ = hypergradient(
        make_loss_pass(nlp, book, params), params, batch, meta_batch, fd_step=1e-4, inner_lr=INNER_LR[kind]
    )
    exact = len(meta_batch) * brute_force(make_loss_pass(nlp, book, params), params, batch, meta_batch, INNER_LR[kind])
    assert numpy.abs(exact).max() > 0
    numpy.testing.assert_allclose(estimate, exact, rtol=0.1, atol=0.05 * numpy.abs(exact).max())


def test_two_loss_passes_at_the_same_parameters_agree_on_cuda(on_gpu, tmp_path):
    """The transformer's dropout is drawn on the device, from torch's CUDA
    generator (the parser's is drawn on the host): frozen streams give the +
    and - passes the same masks there too."""
    nlp, examples, book, params = tiny_transformer_pipeline(tmp_path / "bert")
    assert params.torch and all(t.is_cuda for t in params.torch)
    first, second, again = transformer_passes(nlp, examples, book, params)
    assert not numpy.array_equal(first, second)  # dropout is drawn: the reset is what makes them agree
    numpy.testing.assert_array_equal(first, again)


def hamr_config(path: Path) -> Path:
    variant_config(Config().from_disk(path, interpolate=False), "hamr").to_disk(path)
    return path


@pytest.mark.parametrize("task", ["textcat", "ner"])
def test_spacy_train_on_gpu_with_both_hamr_blocks(tmp_path, task):
    data = generated_corpus(tmp_path / "corpus", task)
    cfg = hamr_config(init_config(tmp_path, task))
    train_with_meta_steps(cfg, data, tmp_path / "out", 2, "--gpu-id", "0", "--training.before_update.meta_every", "1")
    assert (tmp_path / "out" / "model-last").exists()


def test_spacy_train_on_gpu_with_a_transformer(tmp_path):
    pytest.importorskip("spacy_transformers")
    from .conftest import textcat_examples

    data = generated_corpus(tmp_path / "corpus", "textcat")
    model = save_tiny_bert(tmp_path / "bert", [w for eg in textcat_examples(80) for w in eg.reference.text.split()])
    cfg = tmp_path / "trf.cfg"
    cfg.write_text((ROOT / "project" / "configs" / "textcat_trf.cfg").read_text())
    hamr_config(cfg)
    train_with_meta_steps(
        cfg,
        data,
        tmp_path / "out",
        2,
        "--gpu-id",
        "0",
        "--training.before_update.meta_every",
        "1",
        "--components.transformer.model.name",
        str(model),
    )
    assert json.loads((tmp_path / "out" / "model-last" / "meta.json").read_text())["pipeline"] == [
        "transformer",
        "textcat",
    ]
