"""Static class weights from config: where they act (a textcat example's gold
category, a multilabel column, an entity type's transitions), and the errors."""

import re

import pytest
import spacy

from spacy_hamr.training.callback import make_hamr_callback

from ..conftest import ner_example, textcat_examples, write_corpus
from ..pipelines import dense_norm as norm, trained_pipeline
from .test_gradient_weights import gradient


def class_weighted(nlp, book, params, batch, table):
    book.class_weights = table
    try:
        return gradient(nlp, book, params, batch, [1.0] * len(batch))
    finally:
        book.class_weights = {}


def close(a, b, tol=1e-5):
    return norm([x - y for x, y in zip(a, b)]) <= tol * max(norm(a), norm(b))


@pytest.mark.parametrize("kind", ["textcat_cnn", "textcat_bow"])
def test_textcat_class_weight_is_the_weight_of_its_gold_examples(kind):
    nlp, examples, book, params = trained_pipeline(kind)
    gold = [max(eg.reference.cats, key=eg.reference.cats.get) for eg in examples[:12]]
    assert {"rare", "big"} <= set(gold)
    table = {"rare": 4.0, "big": 0.5}
    by_class = class_weighted(nlp, book, params, examples[:12], table)
    by_example = gradient(nlp, book, params, examples[:12], [table.get(g, 1.0) for g in gold])
    assert close(by_class, by_example)
    assert not close(by_class, gradient(nlp, book, params, examples[:12], [1.0] * 12), tol=1e-2)


def test_multilabel_class_weights_scale_their_label_column():
    nlp, examples, book, params = trained_pipeline("multilabel")
    batch = examples[:12]
    assert norm(class_weighted(nlp, book, params, batch, {"big": 0.0, "mid": 0.0, "rare": 0.0})) == 0
    plain = class_weighted(nlp, book, params, batch, {})
    rare_only = class_weighted(nlp, book, params, batch, {"big": 0.0, "mid": 0.0})
    rare_doubled = class_weighted(nlp, book, params, batch, {"rare": 2.0})
    # Column-wise linear: doubling "rare" adds its column's gradient once more.
    assert close(rare_doubled, [p + r for p, r in zip(plain, rare_only)])
    assert not close(rare_only, plain, tol=1e-2)


def test_ner_class_weight_acts_on_its_entity_transitions_only(parser_dropout_off):
    nlp, _, book, params = trained_pipeline("ner", steps=20)
    nlp.get_pipe("ner").model.attrs["unseen_classes"].clear()
    per = ner_example(nlp.vocab, ["Anna", "Smith", "said", "so"], ["B-PER", "I-PER", "O", "O"])
    loc = ner_example(nlp.vocab, ["Anna", "flew", "to", "Paris"], ["B-PER", "O", "O", "B-LOC"])
    # A sentence without LOC is untouched by LOC's weight.
    assert close(class_weighted(nlp, book, params, [per], {"LOC": 0.0}), gradient(nlp, book, params, [per], [1.0]))
    g0, g1, g2 = (class_weighted(nlp, book, params, [loc], {"LOC": w}) for w in (0.0, 1.0, 2.0))
    assert close(g1, gradient(nlp, book, params, [loc], [1.0]))
    assert not close(g0, g1, tol=1e-2)
    # Linear in LOC's weight, and not a whole-sentence weight (that would make g0 zero).
    assert close([b - a for a, b in zip(g0, g1)], [c - b for b, c in zip(g1, g2)])
    assert norm(g0) > 0.05 * norm(g1)


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"weighting": "class_weights"}, "needs a class_weights table"),
        (
            {"weighting": "meta", "class_weights": {"rare": 2.0}},
            'class_weights only applies with weighting = "class_weights"',
        ),
        ({"weighting": "meta", "power": 0.5}, 'power only applies with weighting = "inverse_frequency"'),
        ({"weighting": "class_weights", "class_weights": {"rare": -1.0}}, "finite and >= 0, got rare = -1.0"),
        ({"weighting": "class_weights", "class_weights": {"rare": "5"}}, "rare must be a number, got the string '5'"),
        ({"weighting": "inverse_frequency", "power": -0.5}, "power must be finite and >= 0"),
    ],
)
def test_class_weighting_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_hamr_callback(**settings)


@pytest.fixture(scope="module")
def tiny_textcat(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_textcat")
    write_corpus(folder / "train.spacy", textcat_examples(120, seed=0))
    write_corpus(folder / "dev.spacy", textcat_examples(30, seed=1))
    return folder


def class_weights_config(folder, table):
    """A `spacy init config` textcat config with class weights only (no resampling)."""
    from thinc.api import Config

    from ..training.test_train_cli import init_config

    cfg = init_config(folder, "textcat", name=f"cw_{len(table)}.cfg")
    config = Config().from_disk(cfg, interpolate=False)
    config["training"]["batcher"].update({"@batchers": "hamr.v1", "resample": False})
    config["training"]["before_update"] = {
        "@callbacks": "hamr.v1",
        "weighting": "class_weights",
        "class_weights": table,
    }
    config.to_disk(cfg)
    return cfg


@pytest.mark.slow
def test_class_weights_through_spacy_train(tmp_path, tiny_textcat):
    from ..training.test_train_cli import train

    cfg = class_weights_config(tmp_path, {"rare": 5.0, "mid": 2.0})
    log = train(cfg, tiny_textcat, tmp_path / "out", "--training.max_epochs", "1")
    assert "[hamr] Class weights: mid 2, rare 5 (other labels 1)" in log
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert set(nlp.get_pipe("textcat").labels) == {"big", "mid", "rare"}


@pytest.mark.slow
def test_unknown_class_weight_label_is_named_before_training(tmp_path, tiny_textcat):
    from ..training.test_train_cli import train_result

    cfg = class_weights_config(tmp_path, {"missing_people": 5.0})
    result = train_result(cfg, tiny_textcat, "--training.max_epochs", 1, "--output", tmp_path / "out")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "class_weights names 'missing_people', which textcat does not predict. Its labels: big, mid, rare." in out
    # No step was taken: spaCy's table has no row (rows start with epoch and step numbers).
    assert not re.search(r"^\s*0\s+\d+\s", result.stdout, re.MULTILINE)
