"""The hamr.v1 callback's settings, set-up checks and fallbacks."""

import numpy
import pytest
import spacy
import torch
from spacy.tokens import DocBin

from spacy_hamr.errors import HamrWarning
from spacy_hamr.meta_weighting.loss_adapters import LossBook, install
from spacy_hamr.meta_weighting.meta_set import check_meta_labels, read_meta_examples
from spacy_hamr.meta_weighting.weight_net import (
    MAX_WEIGHT,
    MIN_WEIGHT,
    OUTPUT_BIAS,
    WeightNet,
    batch_weights,
    make_optimizer,
    meta_step,
    zscore,
)
from spacy_hamr.meta_weighting.weighting import inverse_frequency_weights
from spacy_hamr.textcat_output import output_is_softmax
from spacy_hamr.training.callback import filled, make_hamr_callback, make_loss_pass
from spacy_hamr.training.shared_state import HamrState

from ..conftest import ner_examples, textcat_examples
from ..pipelines import trained_pipeline


@pytest.mark.parametrize(
    "setting,value",
    [
        ("weighting", "focal"),
        ("hardness", "none"),
        ("ner_loss", "mean"),
        ("meta_every", 0),
        ("meta_batch_size", 0),
        ("lookahead_size", 0),
        ("inner_lr", 0.0),
        ("fd_step", -1.0),
        ("meta_lr", 0.0),
    ],
)
def test_bad_settings_name_the_setting(setting, value):
    with pytest.raises(ValueError, match=rf"hamr.v1: {setting} must be"):
        make_hamr_callback(**{setting: value})


def test_weight_net_shape_and_init():
    net = WeightNet(seed=0)
    assert net.hidden.in_features == 1 and net.hidden.out_features == 100 and net.out.out_features == 1
    assert float(net.out.bias.detach()) == pytest.approx(OUTPUT_BIAS)
    assert (WeightNet(seed=0).hidden.weight == net.hidden.weight).all()
    # Untrained, the net weights every example 1: only meta-learning bends w(z).
    numpy.testing.assert_allclose(batch_weights(net, numpy.array([0.1, 1.0, 5.0, 20.0])), 1.0)


def test_weights_are_mean_normalised_and_clamped():
    net = WeightNet(seed=1)
    with torch.no_grad():  # w(z) = sigmoid(a * relu(z) + c): rising with the loss
        net.hidden.weight.fill_(1.0)
        net.hidden.bias.zero_()
        net.out.weight.fill_(0.01)
        net.out.bias.zero_()
    gentle = batch_weights(net, numpy.array([0.1, 0.2, 0.3, 5.0, 0.0]))
    assert MIN_WEIGHT < gentle.min() < 1.0 < gentle.max() < MAX_WEIGHT and gentle.argmax() == 3
    assert gentle.mean() == pytest.approx(1.0, abs=1e-12)  # mean-normalised, inside the clamps
    with torch.no_grad():  # one example gets almost all the raw weight: 20x the mean, the rest ~0
        net.out.weight.fill_(10.0)
        net.out.bias.fill_(-20.0)
    steep = batch_weights(net, numpy.array([0.1] * 19 + [5.0]))
    assert steep.max() == MAX_WEIGHT and steep.min() == MIN_WEIGHT
    assert (steep[:19] == MIN_WEIGHT).all()
    numpy.testing.assert_allclose(zscore(numpy.array([1.0, 3.0])), [-1.0, 1.0])
    numpy.testing.assert_allclose(zscore(numpy.array([2.0, 2.0])), [0.0, 0.0])


def test_meta_steps_raise_weights_where_the_hypergradient_is_negative():
    """dL_meta/dw < 0 for high-loss examples: the net learns to up-weight them."""
    net = WeightNet(seed=0)
    optimizer = make_optimizer(net, 1e-2)
    losses = numpy.linspace(0.0, 2.0, 16)
    hypergrad = -(losses - losses.mean())
    before = batch_weights(net, losses)
    for _ in range(50):
        meta_step(net, optimizer, losses, hypergrad)
    after = batch_weights(net, losses)
    assert after[-1] - after[0] > before[-1] - before[0] + 0.5


def test_unknown_losses_count_as_the_batch_average():
    numpy.testing.assert_allclose(filled(numpy.array([1.0, numpy.nan, 3.0])), [1.0, 2.0, 3.0])
    numpy.testing.assert_allclose(filled(numpy.array([numpy.nan, numpy.nan])), [0.0, 0.0])


def test_inverse_frequency_weights():
    state = HamrState()
    state.bind(textcat_examples(100, shares=(0.8, 0.15, 0.05)))
    w = inverse_frequency_weights(state.labels)
    counts = {label: sum(lab == [label] for lab in state.labels) for label in ("big", "rare")}
    big, rare = state.labels.index(["big"]), state.labels.index(["rare"])
    assert w[rare] / w[big] == pytest.approx(counts["big"] / counts["rare"])
    assert w.mean() == pytest.approx(1.0)


def test_objective_follows_the_output_layer():
    nlp = spacy.blank("en")
    assert output_is_softmax(nlp.add_pipe("textcat", name="ensemble").model)
    bow = nlp.add_pipe(
        "textcat",
        name="bow",
        config={
            "model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": True,
                "ngram_size": 1,
                "no_output_layer": False,
            }
        },
    )
    assert not output_is_softmax(bow.model)
    assert not output_is_softmax(nlp.add_pipe("textcat_multilabel").model)


def test_beam_ner_is_refused_by_name():
    nlp = spacy.blank("en")
    nlp.add_pipe("beam_ner", name="entities")
    nlp.initialize(lambda: ner_examples(10))
    with pytest.raises(ValueError, match="'entities' is a beam NER"):
        install(nlp, LossBook(), exclude=[], ner_reduction="sum")


def test_other_components_are_named_and_frozen_ones_skipped(capsys):
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat")
    nlp.add_pipe("tagger").add_label("NN")
    nlp.add_pipe("ner").add_label("LOC")
    examples = textcat_examples(10)
    nlp.initialize(lambda: examples)
    weighted = install(nlp, LossBook(), exclude=["ner"], ner_reduction="sum")
    assert weighted == ["textcat"]
    out = capsys.readouterr()
    assert "unweighted" in out.out + out.err and "tagger" in out.out + out.err


def test_reinstalling_rebinds_instead_of_weighting_twice():
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat")
    examples = textcat_examples(10)
    nlp.initialize(lambda: examples)
    book = LossBook()
    for _ in range(2):  # a second training run of the same nlp installs again
        install(nlp, book, exclude=[], ner_reduction="sum")
    pipe = nlp.get_pipe("textcat")
    scores = pipe.model.predict([eg.predicted for eg in examples[:2]])
    _, plain = pipe.get_loss.__self__._original(examples[:2], scores)
    book.weights = {id(examples[0].reference): 2.0, id(examples[1].reference): 0.5}
    _, weighted = pipe.get_loss(examples[:2], scores)
    numpy.testing.assert_allclose(weighted, plain * numpy.array([[2.0], [0.5]]), rtol=1e-6)
    assert set(book.losses["textcat"]) == {id(eg.reference) for eg in examples[:2]}


def test_meta_set_lacking_a_label_warns():
    state = HamrState()
    state.bind(textcat_examples(50, shares=(0.5, 0.3, 0.2)))
    meta = [eg for eg in textcat_examples(30) if eg.reference.cats["rare"] == 0]
    with pytest.warns(HamrWarning, match="no example of rare"):
        assert check_meta_labels(state.labels, meta) == ["rare"]


def test_empty_meta_corpus_is_an_error(tmp_path):
    DocBin().to_disk(tmp_path / "meta.spacy")
    with pytest.raises(ValueError, match="meta corpus .*meta.spacy is empty"):
        read_meta_examples(spacy.blank("en"), tmp_path / "meta.spacy")


@pytest.mark.parametrize("kind", ["ner", "textcat_cnn"])
def test_loss_pass_gives_a_repeated_example_its_own_loss(kind, parser_dropout_off):
    """A batch drawn with replacement repeats examples; the loss pass (which skips
    spaCy's copy of each example) must still score each copy as the example alone."""
    nlp, examples, book, params = trained_pipeline(kind)
    run = make_loss_pass(nlp, book, params)
    a, b = examples[0], examples[1]
    alone, _ = run([a])
    batch, _ = run([a, b, a])
    numpy.testing.assert_allclose(batch[[0, 2]], [alone[0], alone[0]], rtol=1e-5)
    assert alone[0] > 0


def test_the_epoch_summary_counts_skipped_meta_steps():
    from spacy_hamr.training.epoch_stats import format_statistics, step_summary

    log = {
        "meta_loss": [0.5, 0.7],
        "hypergrad_rms": [2e-5, 4e-5, 1e-3],
        "meta_skipped": ["meta loss nan, meta gradient norm 0"],
    }
    summary = step_summary(log, numpy.random.default_rng(0))
    assert (summary["meta_steps"], summary["meta_skipped"]) == (2, 1)
    assert summary["hypergrad_rms"] == 4e-5  # the median: one large step does not hide an inert net
    line = format_statistics(
        {"epoch": 0, "draws": 4, "unique": 3, "max_repeats": 2, "class_share": {"a": 1.0}, **summary}
    )
    assert "meta loss 0.6000, hypergradient RMS 4.0e-05; 1 of 3 meta steps skipped" in line
    assert "skipped" not in format_statistics(
        {
            "epoch": 0,
            "draws": 4,
            "unique": 3,
            "max_repeats": 2,
            "class_share": {"a": 1.0},
            **step_summary({"meta_loss": [0.5]}, None),
        }
    )
