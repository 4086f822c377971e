"""Weights reach the gradient: with weights (1, 0), a batch [a, b] gives the
gradient of [a] alone; weights scale linearly."""

import pytest

from spacy_hamr.meta_weighting.random_streams import frozen_randomness

from ..conftest import ner_example
from ..pipelines import dense_norm as global_norm, gradients, trained_pipeline


def gradient(nlp, book, params, batch, weights):
    book.weights = {id(eg.reference): float(w) for eg, w in zip(batch, weights)}
    with frozen_randomness():
        nlp.update(batch, drop=0.0, sgd=False, losses={})
        grads = gradients(params)
        params.zero_gradients()
    book.weights = {}
    return grads


def distance(a, b):
    return global_norm([x - y for x, y in zip(a, b)])


@pytest.mark.parametrize("kind", ["textcat_cnn", "textcat_bow", "multilabel"])
def test_textcat_zero_weight_removes_an_example_exactly(kind):
    nlp, examples, book, params = trained_pipeline(kind)
    a, b = examples[0], examples[1]
    weighted = gradient(nlp, book, params, [a, b], [1.0, 0.0])
    alone = gradient(nlp, book, params, [a], [1.0])
    assert global_norm(alone) > 0
    assert distance(weighted, alone) <= 1e-6 * global_norm(alone)


def test_ner_zero_weight_removes_a_document(parser_dropout_off):
    nlp, _, book, params = trained_pipeline("ner", steps=20)
    # Actions never seen as gold get the batch's minimum score, which couples
    # documents; with every class seen (as soon happens on real data) it stops.
    nlp.get_pipe("ner").model.attrs["unseen_classes"].clear()
    # spaCy's PrecomputableAffine backward builds W's gradient from X[ids] with
    # ids = -1 for missing features, i.e. from the batch's *last* token vector,
    # although the forward used the padding row. So b changes a's W gradient unless
    # the batch's last token vector stays a's: b ends in a's last five tokens (the
    # CNN's receptive field), and nothing else is shared.
    tail, tail_ents = ["said", "flew", "to", "Paris", "7"], ["O", "O", "O", "B-LOC", "O"]
    a = ner_example(nlp.vocab, ["Anna", "Smith"] + tail, ["B-PER", "I-PER"] + tail_ents)
    b = ner_example(
        nlp.vocab,
        ["flew", "to", "Paris", "Anna", "Smith", "said"] + tail,
        ["O", "O", "B-LOC", "B-PER", "I-PER", "O"] + tail_ents,
    )
    alone = gradient(nlp, book, params, [a], [1.0])
    assert global_norm(alone) > 0
    weighted = gradient(nlp, book, params, [a, b], [1.0, 0.0])
    assert distance(weighted, alone) <= 1e-6 * global_norm(alone)
    reverse = gradient(nlp, book, params, [b, a], [0.0, 1.0])
    assert distance(reverse, alone) <= 1e-6 * global_norm(alone)


def test_ner_gradient_is_linear_in_the_weights():
    nlp, examples, book, params = trained_pipeline("ner")
    batch = examples[:3]
    g = gradient(nlp, book, params, batch, [2.0, 3.0, 0.5])
    parts = [gradient(nlp, book, params, batch, w) for w in ([1, 0, 0], [0, 1, 0], [0, 0, 1])]
    combined = [2 * x + 3 * y + 0.5 * z for x, y, z in zip(*parts)]
    assert distance(g, combined) <= 1e-5 * global_norm(g)
