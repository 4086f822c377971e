"""HAMR's array code on a device other than the host, without a GPU: the
stand-in device (tests/stand_in_device.py) refuses every implicit conversion
to numpy, as cupy does, so a numpy call on a model's array fails here as it
would on a GPU."""

from contextlib import contextmanager
from pathlib import Path

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from spacy.util import load_config, load_model_from_config
from thinc.api import Adam, Linear, Softmax, chain, fix_random_seed, get_current_ops, set_current_ops

from spacy_hamr.meta_weighting import random_streams
from spacy_hamr.meta_weighting.lookahead import Perturbation, TrainableParams, gradient_norm, hypergradient
from spacy_hamr.meta_weighting.loss_adapters import LossBook, TextcatWeighting, install
from spacy_hamr.meta_weighting.random_streams import frozen_randomness
from spacy_hamr.resampling.embedders import make_doc_vectors_embedder
from spacy_hamr.resampling.neighbors import NeighbourIndex
from spacy_hamr.training.callback import make_loss_pass

from .conftest import ROOT, textcat_examples
from .meta_weighting.test_hypergradient import brute_force
from .pipelines import trained_pipeline
from .stand_in_device import DeviceArray, StandInOps, to_stand_in
from .tiny_transformer import save_tiny_bert

N_IN, N_HIDDEN, N_CLASSES = 6, 5, 3


@pytest.fixture
def ops():
    return StandInOps()


def device_model(ops, seed: int = 0):
    """A Linear -> Softmax model on the stand-in device, and its data.

    The inputs' last four columns are zero, so the first layer's weight
    gradient is mostly zero (sparse) while the others are dense.
    """
    fix_random_seed(seed)  # thinc's initialisers draw from numpy's global generator
    rng = numpy.random.default_rng(seed)
    X = rng.normal(size=(40, N_IN)).astype("f")
    X[:, -4:] = 0.0
    y = rng.integers(0, N_CLASSES, size=40)
    model = chain(Linear(N_HIDDEN, N_IN), Softmax(N_CLASSES, N_HIDDEN))
    model.initialize(X=X[:4], Y=numpy.eye(N_CLASSES, dtype="f")[y[:4]])
    model.layers[1].set_param("W", rng.normal(size=(N_CLASSES, N_HIDDEN)).astype("f"))  # not thinc's zeros
    to_stand_in(model, ops)
    return model, ops.asarray(X), y


def device_loss_pass(model, ops, X, y, params):
    """A loss pass as make_loss_pass gives for spaCy: per-example cross-entropy
    (on the host), gradients of the (weighted) summed loss, applied nothing."""
    truth = ops.asarray(numpy.eye(N_CLASSES, dtype="f")[y])

    def loss_pass(rows, with_gradients=False, weights=None):
        rows = numpy.asarray(rows)
        probs, backprop = model.begin_update(X[ops.asarray(rows)])
        losses = -numpy.log(numpy.maximum((ops.to_numpy(probs) * numpy.eye(N_CLASSES)[y[rows]]).sum(1), 1e-12))
        w = numpy.ones(len(rows), dtype="f") if weights is None else numpy.asarray(weights, dtype="f")
        backprop((probs - truth[ops.asarray(rows)]) * ops.asarray(w[:, None]))
        grads = params.sparse_gradients() if with_gradients else None
        params.zero_gradients()
        return losses, grads

    return loss_pass


def test_hypergradient_on_device_matches_brute_force(ops):
    model, X, y = device_model(ops)
    params = TrainableParams([model])
    batch, meta_batch, inner_lr = list(range(10)), list(range(20, 36)), 0.005
    run = device_loss_pass(model, ops, X, y, params)
    losses, estimate, _ = hypergradient(run, params, batch, meta_batch, fd_step=1e-2, inner_lr=inner_lr)
    # The estimate is the derivative of the meta batch's summed loss (spaCy sums gradients).
    exact = len(meta_batch) * brute_force(run, params, batch, meta_batch, inner_lr)
    assert numpy.abs(exact).max() > 0 and losses.shape == (10,)
    numpy.testing.assert_allclose(estimate, exact, rtol=0.05, atol=0.02 * numpy.abs(exact).max())


def test_sparse_and_dense_gradients_perturb_and_restore_exactly(ops):
    model, X, y = device_model(ops)
    params = TrainableParams([model])
    host = [ops.to_numpy(params.array(i)).copy() for i in range(len(params.thinc))]
    _, grads = device_loss_pass(model, ops, X, y, params)(list(range(12)), True)
    dense = {i for i, positions, _ in grads if positions is None}
    sparse = {i for i, positions, _ in grads if positions is not None}
    assert dense and sparse  # both paths are exercised
    host_grads = {}
    for i, positions, values in grads:
        full = numpy.zeros(host[i].size, dtype="f")
        if positions is None:
            full[:] = ops.to_numpy(values).ravel()
        else:
            full[ops.to_numpy(positions)] = ops.to_numpy(values)
        host_grads[i] = full
    expected_norm = sum(float((g.astype("float64") ** 2).sum()) for g in host_grads.values()) ** 0.5
    assert gradient_norm(grads) == pytest.approx(expected_norm, rel=1e-6)
    perturbation = Perturbation(params, grads, 2.0)
    perturbation.apply(0.5)
    for i in range(len(params.thinc)):
        moved = ops.to_numpy(params.array(i)).ravel()
        assert isinstance(params.array(i), DeviceArray)
        numpy.testing.assert_allclose(moved, host[i].ravel() + host_grads.get(i, 0.0), rtol=1e-6, atol=1e-7)
    perturbation.restore()
    for i in range(len(params.thinc)):
        assert numpy.array_equal(ops.to_numpy(params.array(i)), host[i])


def test_textcat_adapter_on_device(ops):
    nlp, examples, _, _ = trained_pipeline("textcat_bow")
    pipe = nlp.get_pipe("textcat")
    batch = examples[:4]
    host_scores = pipe.model.predict([eg.predicted for eg in batch])
    book = LossBook()
    book.weights = {id(eg.reference): w for eg, w in zip(batch, (2.0, 0.5, 1.0, 0.0))}
    book.class_weights = {"rare": 3.0}
    weighting = TextcatWeighting(pipe, book)
    host_loss, host_d = weighting.get_loss(batch, host_scores)
    host_losses = book.take_losses(batch)
    pipe.model.ops = ops
    loss, d_scores = weighting.get_loss(batch, ops.asarray(host_scores))
    assert isinstance(d_scores, DeviceArray)
    numpy.testing.assert_allclose(ops.to_numpy(d_scores), host_d, rtol=1e-6)
    numpy.testing.assert_allclose(book.take_losses(batch), host_losses, rtol=1e-6)
    assert loss == pytest.approx(host_loss)


@contextmanager
def current_ops(ops):
    """spaCy trains with the device's ops as the current ops (--gpu-id)."""
    before = get_current_ops()
    set_current_ops(ops)
    try:
        yield ops
    finally:
        set_current_ops(before)


def test_doc_vectors_embedder_on_device_into_the_neighbour_index(ops):
    """On a GPU, nlp.initialize moves the vectors to the device, so Doc.vector
    is a device array (here through a vector hook: spaCy's own Doc.vector
    knows only numpy and cupy)."""
    nlp = spacy.blank("en")
    table = {"storm": [1.0, 0.0, 0.0], "flood": [0.9, 0.1, 0.0], "sun": [0.0, 1.0, 0.0], "beach": [0.0, 0.9, 0.2]}
    for word, vector in table.items():
        nlp.vocab.set_vector(word, numpy.array(vector, dtype="f"))
    examples = []
    for word in table:
        doc = nlp.make_doc(word)
        doc.user_hooks["vector"] = lambda d: ops.asarray(numpy.array(table[d.text], dtype="f"))
        examples.append(Example(nlp.make_doc(word), doc))
    assert isinstance(examples[0].reference.vector, DeviceArray)
    with current_ops(ops):
        vectors = make_doc_vectors_embedder()(examples)
    assert isinstance(vectors, numpy.ndarray) and vectors.dtype == numpy.float32
    numpy.testing.assert_allclose(vectors, list(table.values()))
    neighbours = NeighbourIndex(vectors).search(numpy.array([0, 2]), k=2)
    assert [sorted(row) for row in neighbours.tolist()] == [[0, 1], [2, 3]]


class FakeCudaGenerators:
    """torch.cuda's generator functions, for a machine without CUDA."""

    def __init__(self):
        self.state = [torch.tensor([7], dtype=torch.uint8)]

    def draw(self):
        self.state = [self.state[0] + 1]
        return int(self.state[0])


def test_cuda_generator_state_is_saved_and_restored(monkeypatch):
    cuda = FakeCudaGenerators()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in cuda.state])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: setattr(cuda, "state", list(states)))
    with frozen_randomness() as reset:
        first = cuda.draw()  # a dropout mask of the + pass
        reset()
        assert cuda.draw() == first  # the - pass draws the same mask
    assert int(cuda.state[0][0]) == 7  # the real update draws as if HAMR had not run


class FakeCupyRandom:
    """cupy.random: a global generator object that has no state to read back."""

    def __init__(self):
        self.current = numpy.random.RandomState(3)

    def get_random_state(self):
        return self.current

    def set_random_state(self, state):
        self.current = state

    def RandomState(self, seed):
        return numpy.random.RandomState(seed)


def test_device_dropout_masks_repeat_in_both_passes(monkeypatch):
    fake = type("cupy", (), {})()
    fake.random = FakeCupyRandom()
    monkeypatch.setattr(random_streams, "cupy", fake)
    monkeypatch.setattr(random_streams, "has_cupy_gpu", True)
    before = fake.random.current
    with frozen_randomness() as reset:
        plus = fake.random.get_random_state().uniform(size=4)
        reset()
        minus = fake.random.get_random_state().uniform(size=4)
        numpy.testing.assert_array_equal(plus, minus)
    assert fake.random.current is before  # the training's own generator is back


def tiny_transformer_pipeline(path: Path, n: int = 16):
    """(nlp, examples, book, params): the project's transformer textcat config
    (project/configs/textcat_trf.cfg) on the random-weights tiny BERT, with the
    HAMR adapters installed, trained a step; on the GPU where the current
    ops are cupy's."""
    pytest.importorskip("spacy_transformers")
    examples = textcat_examples(n)
    model = save_tiny_bert(path, [w for eg in examples for w in eg.reference.text.split()])
    config = load_config(
        ROOT / "project" / "configs" / "textcat_trf.cfg", overrides={"components.transformer.model.name": str(model)}
    )
    nlp = load_model_from_config(config, auto_fill=True)
    nlp.initialize(lambda: examples)
    # One step off the output layer's W = 0 (every loss log 3); the config's warm-up would not move it.
    nlp.update(examples, sgd=Adam(0.01), losses={})
    book = LossBook()
    install(nlp, book, exclude=[], ner_reduction="sum")
    return nlp, examples, book, TrainableParams.of_pipeline(nlp, [])


def transformer_passes(nlp, examples, book, params):
    """Losses of three loss passes under frozen randomness: two in a row, then one after the reset."""
    run = make_loss_pass(nlp, book, params)
    with frozen_randomness() as reset:
        first, _ = run(examples[:8])
        second, _ = run(examples[:8])
        reset()
        again, _ = run(examples[:8])
    return first, second, again


def test_transformer_loss_passes_repeat_with_frozen_randomness(tmp_path):
    """The transformer runs in train mode in the loss passes, so it draws dropout
    masks (from torch's host generator here; on a GPU, its CUDA generator:
    test_gpu.py): consecutive passes differ, a reset pass repeats the first."""
    first, second, again = transformer_passes(*tiny_transformer_pipeline(tmp_path / "bert"))
    assert not numpy.array_equal(first, second)  # dropout is drawn: the reset is what makes them agree
    numpy.testing.assert_array_equal(first, again)
