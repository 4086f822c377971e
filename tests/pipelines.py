"""Small initialised pipelines for the maths tests, trained a few steps so
that gradients are not degenerate (thinc's Softmax starts at W = 0)."""

import numpy
import spacy
import torch
from thinc.api import fix_random_seed

from spacy_hamr.meta_weighting.lookahead import TrainableParams
from spacy_hamr.meta_weighting.loss_adapters import LossBook, install

from .conftest import ner_examples, textcat_examples

TEXTCAT_CNN = {
    "model": {
        "@architectures": "spacy.TextCatReduce.v1",
        "exclusive_classes": True,
        "use_reduce_first": False,
        "use_reduce_last": False,
        "use_reduce_max": True,
        "use_reduce_mean": True,
        "tok2vec": {
            "@architectures": "spacy.HashEmbedCNN.v2",
            "width": 32,
            "depth": 2,
            "embed_size": 500,
            "window_size": 1,
            "maxout_pieces": 3,
            "subword_features": True,
            "pretrained_vectors": None,
        },
    }
}
TEXTCAT_BOW = {
    "model": {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": True,
        "ngram_size": 1,
        "no_output_layer": False,
    }
}


def trained_pipeline(kind: str, n: int = 60, steps: int = 5, seed: int = 0):
    """(nlp, examples, book, params) with the HAMR adapters installed."""
    fix_random_seed(seed)
    nlp = spacy.blank("en")
    if kind == "ner":
        examples = ner_examples(n, seed=seed)
        nlp.add_pipe("ner")
    elif kind == "multilabel":
        examples = textcat_examples(n, seed=seed)
        nlp.add_pipe("textcat_multilabel")
    else:
        examples = textcat_examples(n, seed=seed)
        nlp.add_pipe("textcat", config=TEXTCAT_BOW if kind == "textcat_bow" else TEXTCAT_CNN)
    optimizer = nlp.initialize(lambda: examples)
    for step in range(steps):
        nlp.update(examples[(step * 10) % n :][:10], sgd=optimizer, losses={})
    book = LossBook()
    install(nlp, book, exclude=[], ner_reduction="sum")
    return nlp, examples, book, TrainableParams.of_pipeline(nlp, [])


def gradients(params: TrainableParams) -> list:
    """Copies of every accumulated gradient (zeros where none), host arrays."""
    grads = [
        node.get_grad(p).copy() if node.has_grad(p) else numpy.zeros_like(node.get_param(p)) for node, p in params.thinc
    ]
    return grads + [t.grad.detach().clone() if t.grad is not None else torch.zeros_like(t) for t in params.torch]


def dense_norm(arrays) -> float:
    return (
        sum(
            float((a.astype("float64") ** 2).sum()) if hasattr(a, "astype") else float((a.double() ** 2).sum())
            for a in arrays
        )
        ** 0.5
    )
