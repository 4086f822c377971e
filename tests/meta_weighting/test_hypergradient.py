"""The finite-difference hypergradient against brute force: for each w_i, take
the weighted SGD step with w_i +- 1 and measure the meta loss."""

import numpy
import pytest

from spacy_hamr.labels import corpus_labels, macro_loss_weights
from spacy_hamr.meta_weighting.class_rates import ClassRates
from spacy_hamr.meta_weighting.lookahead import Perturbation, hypergradient
from spacy_hamr.meta_weighting.random_streams import frozen_randomness
from spacy_hamr.training.callback import make_loss_pass

from ..pipelines import trained_pipeline

# Small enough that the look-ahead step stays in the linear regime: NER's
# per-document loss sums over parser states, so its gradients are far larger.
INNER_LR = {"textcat_cnn": 2e-4, "textcat_bow": 2e-4, "multilabel": 2e-4, "ner": 1e-6}


def brute_force(run, params, batch, meta_batch, inner_lr, directions=None, meta_weights=None):
    """dL_meta/dw along each direction (default: each w_i) by actually stepping
    theta - eta/B * sum_j w_j grad l_j with w = 1 +- direction, through the loss
    pass `run`. The meta loss is the mean, or the weighted mean with
    `meta_weights` (the macro loss)."""
    if directions is None:
        directions = numpy.eye(len(batch))
    out = []
    for direction in directions:
        meta = []
        for delta in (+1.0, -1.0):
            with frozen_randomness() as reset:  # the same parser dropout masks as the estimate
                _, grads = run(batch, True, 1.0 + delta * direction)
                step = Perturbation(params, grads, 1.0 / len(batch))
                step.apply(-inner_lr)
                reset()
                losses = run(meta_batch)[0]
                meta.append(float(numpy.mean(losses if meta_weights is None else meta_weights * losses)))
                step.restore()
        out.append((meta[0] - meta[1]) / 2.0)
    return numpy.array(out)


@pytest.mark.parametrize("kind", ["textcat_cnn", "textcat_bow", "multilabel", "ner"])
def test_estimate_matches_brute_force(kind):
    nlp, examples, book, params = trained_pipeline(kind)
    batch, meta_batch = examples[:12], examples[30:46]
    losses, estimate, meta_loss = hypergradient(
        make_loss_pass(nlp, book, params), params, batch, meta_batch, fd_step=1e-4, inner_lr=INNER_LR[kind]
    )
    exact = brute_force(make_loss_pass(nlp, book, params), params, batch, meta_batch, INNER_LR[kind])
    assert numpy.std(exact) > 0
    # The estimate is the derivative of the meta batch's summed loss; brute force measures the mean's.
    exact *= len(meta_batch)
    numpy.testing.assert_allclose(estimate, exact, rtol=0.1, atol=0.05 * numpy.abs(exact).max())
    assert losses.shape == (12,) and numpy.isfinite(meta_loss)


@pytest.mark.parametrize("kind", ["textcat_cnn", "textcat_bow", "ner"])
@pytest.mark.parametrize("macro", [False, True])
def test_class_sums_match_brute_force(kind, macro):
    """What the class rates learn from: the per-example estimates summed over a
    class's examples (ClassRates.accumulate) against the meta loss's derivative
    along the class's weight (w_i = 1 + delta for every example of the class),
    with the mean or the macro meta loss. spaCy's gradients are summed over a
    batch, so the estimate is that of the meta batch's summed loss."""
    nlp, examples, book, params = trained_pipeline(kind)
    labels = corpus_labels([eg.reference for eg in examples])
    rare = [eg for eg, lab in zip(examples[:30], labels) if lab == min(labels, key=labels.count)]
    batch, meta_batch = rare[:3] + [eg for eg in examples[:30] if eg not in rare][:13], examples[30:46]
    meta_weights = macro_loss_weights(corpus_labels([eg.reference for eg in meta_batch])) if macro else None
    _, estimate, _ = hypergradient(
        make_loss_pass(nlp, book, params),
        params,
        batch,
        meta_batch,
        fd_step=1e-4,
        inner_lr=INNER_LR[kind],
        meta_weights=meta_weights,
    )
    rates = ClassRates(corpus_labels([eg.reference for eg in batch]), 0.1, "loss", (0.1, 8.0))
    rates.accumulate(numpy.arange(len(batch)), estimate)
    directions = numpy.array([rates.class_of == k for k in range(len(rates.classes))], dtype="float64")
    exact = brute_force(
        make_loss_pass(nlp, book, params), params, batch, meta_batch, INNER_LR[kind], directions, meta_weights
    )
    assert len(rates.classes) >= 2 and numpy.abs(exact).max() > 0
    exact *= len(meta_batch)
    numpy.testing.assert_allclose(rates._sum, exact, rtol=0.1, atol=0.05 * numpy.abs(exact).max())


def test_parameters_are_restored_exactly():
    nlp, examples, book, params = trained_pipeline("textcat_cnn")

    def snapshot():
        return [
            params.array(i).copy() if isinstance(params.array(i), numpy.ndarray) else params.array(i).clone()
            for i in range(len(params.thinc) + len(params.torch))
        ]

    before = snapshot()
    hypergradient(make_loss_pass(nlp, book, params), params, examples[:8], examples[8:16], 1e-4, 2e-4)
    for a, b in zip(before, snapshot()):
        assert numpy.array_equal(a, b)


def test_zero_meta_gradient_is_reported_not_divided_by():
    nlp, examples, book, params = trained_pipeline("textcat_bow")

    def flat_pass(egs, with_gradients=False, weights=None):
        return numpy.ones(len(egs)), [] if with_gradients else None

    assert "gradient norm 0" in hypergradient(flat_pass, params, examples[:4], examples[4:8], 1e-3, 2e-4)


def test_nan_losses_are_reported():
    nlp, examples, book, params = trained_pipeline("textcat_bow")
    real = make_loss_pass(nlp, book, params)

    def nan_pass(egs, with_gradients=False, weights=None):
        losses, grads = real(egs, with_gradients, weights)
        return (losses if with_gradients else losses * numpy.nan), grads

    assert "non-finite" in hypergradient(nan_pass, params, examples[:4], examples[4:8], 1e-3, 2e-4)
