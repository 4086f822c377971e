"""Post-hoc logit adjustment folded into the output bias: where the bias is,
that only it changes, that predictions move as the chosen shift says, the
errors, the command and the before_to_disk callback."""

import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_hamr.corpus import read_docs
from spacy_hamr.logit_adjustment.adjust import (
    class_prior,
    draws_prior,
    output_bias_layer,
    plan_adjustment,
    record_draw_shares,
    recorded_draw_shares,
    shares_prior,
    shifted,
    textcat_component,
)
from spacy_hamr.logit_adjustment.adjust_on_save import make_logit_adjustment

from ..conftest import ner_examples, textcat_examples, write_corpus
from ..pipelines import trained_pipeline

THRESHOLD = 0.5
# Training steps after which the generated data leaves the adjustment something to do.
STEPS = {"textcat_bow": 5, "textcat_cnn": 3, "multilabel": 1}


def dev_examples(nlp, n=60, seed=7):
    return [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in textcat_examples(n, seed=seed)]


def params(nlp):
    return {
        (node.id, name): node.get_param(name).copy()
        for _, pipe in nlp.pipeline
        for node in pipe.model.walk()
        for name in node.param_names
        if node.has_param(name)
    }


def cats(nlp, examples, labels):
    return numpy.array(
        [[doc.cats[label] for label in labels] for doc in nlp.pipe(eg.predicted.copy() for eg in examples)]
    )


def test_shifted_is_softmax_and_sigmoid_of_shifted_logits():
    logits = numpy.array([[1.0, 2.0, -1.0], [0.0, 0.0, 3.0]])
    delta = numpy.array([0.5, -1.0, 2.0])
    softmax = lambda z: numpy.exp(z) / numpy.exp(z).sum(axis=1, keepdims=True)  # noqa: E731
    sigmoid = lambda z: 1 / (1 + numpy.exp(-z))  # noqa: E731
    numpy.testing.assert_allclose(shifted(softmax(logits), delta, True), softmax(logits + delta), rtol=1e-9)
    numpy.testing.assert_allclose(shifted(sigmoid(logits), delta, False), sigmoid(logits + delta), rtol=1e-6)


@pytest.mark.parametrize("kind", ["textcat_bow", "textcat_cnn", "multilabel"])
def test_only_the_output_bias_changes_and_predictions_follow_the_shift(kind):
    nlp, examples, _, _ = trained_pipeline(kind, steps=STEPS[kind])
    name = textcat_component(nlp)
    labels = list(nlp.get_pipe(name).labels)
    dev = dev_examples(nlp)
    before_params, before = params(nlp), cats(nlp, dev, labels)
    layer = output_bias_layer(nlp, name)
    adjustment = plan_adjustment(nlp, dev, train=[eg.reference for eg in examples])
    adjustment.apply()
    changed = [key for key, value in params(nlp).items() if not numpy.array_equal(value, before_params[key])]
    assert changed == [(layer.id, "b")]
    numpy.testing.assert_allclose(
        cats(nlp, dev, labels), shifted(before, adjustment.delta, kind != "multilabel"), atol=1e-5
    )
    assert adjustment.after > adjustment.before
    # what was chosen is what spaCy's own scorer now gives on dev
    assert 100 * nlp.evaluate(dev)["cats_macro_f"] == pytest.approx(adjustment.after, abs=1e-6)


def test_exclusive_shift_is_minus_tau_log_prior():
    nlp, examples, _, _ = trained_pipeline("textcat_cnn", steps=STEPS["textcat_cnn"])
    prior = class_prior([eg.reference for eg in examples], nlp.get_pipe("textcat").labels)
    assert prior.argmax() == list(nlp.get_pipe("textcat").labels).index("big")
    adjustment = plan_adjustment(nlp, dev_examples(nlp), prior=prior)
    numpy.testing.assert_allclose(adjustment.delta, -adjustment.tau * numpy.log(prior))
    assert adjustment.tau > 0 and adjustment.thresholds == {}


def test_multilabel_thresholds_decide_the_adjusted_predictions():
    """After the shift, the component's own threshold (0.5) on the adjusted
    scores gives the same labels as each chosen threshold on the original ones."""
    nlp, examples, _, _ = trained_pipeline("multilabel", steps=STEPS["multilabel"])
    labels = list(nlp.get_pipe("textcat_multilabel").labels)
    dev = dev_examples(nlp)
    original = cats(nlp, dev, labels)
    adjustment = plan_adjustment(nlp, dev, train=[eg.reference for eg in examples])
    adjustment.apply()
    assert any(t != THRESHOLD for t in adjustment.thresholds.values())  # the test says something
    adjusted = cats(nlp, dev, labels)
    thresholds = numpy.array([adjustment.thresholds[label] for label in labels])
    clear = numpy.abs(original - thresholds) > 1e-4  # not on the boundary
    assert ((adjusted >= THRESHOLD) == (original >= thresholds))[clear].all()
    assert ((adjusted >= THRESHOLD) != (original >= THRESHOLD)).any()  # predictions did change


def test_a_pipeline_without_textcat_is_refused():
    nlp, _, _, _ = trained_pipeline("ner")
    with pytest.raises(ValueError, match="no textcat or textcat_multilabel component"):
        textcat_component(nlp)


def test_several_textcat_components_need_a_name():
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat", name="topic")
    nlp.add_pipe("textcat", name="urgency")
    with pytest.raises(ValueError, match=r"several textcat components \(topic, urgency\)"):
        textcat_component(nlp)
    assert textcat_component(nlp, "urgency") == "urgency"
    with pytest.raises(ValueError, match="No textcat component called 'sentiment'"):
        textcat_component(nlp, "sentiment")


def test_an_output_without_softmax_is_refused():
    config = {
        "model": {
            "@architectures": "spacy.TextCatBOW.v3",
            "exclusive_classes": True,
            "ngram_size": 1,
            "no_output_layer": True,
        }
    }
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat", config=config)
    examples = textcat_examples(30)
    optimizer = nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=optimizer)
    with pytest.raises(ValueError, match=r"spacy.TextCatBOW.v3\) does not act on the output logits"):
        plan_adjustment(nlp, dev_examples(nlp), train=[eg.reference for eg in examples])


def test_a_dev_corpus_without_the_labels_is_refused():
    nlp, examples, _, _ = trained_pipeline("textcat_bow")
    with pytest.raises(ValueError, match="The dev corpus has none of 'textcat''s labels"):
        plan_adjustment(nlp, ner_examples(10), train=[eg.reference for eg in examples])


def test_callback_saves_adjusted_and_leaves_the_training_model_alone(tmp_path):
    nlp, examples, _, _ = trained_pipeline("textcat_bow", steps=STEPS["textcat_bow"])
    write_corpus(tmp_path / "dev.spacy", textcat_examples(60, seed=7))
    write_corpus(tmp_path / "train.spacy", examples)
    before = params(nlp)
    callback = make_logit_adjustment(dev_path=tmp_path / "dev.spacy", prior_path=tmp_path / "train.spacy")
    saved = callback(nlp)
    assert saved is nlp
    saved.to_disk(tmp_path / "model")
    assert all(numpy.array_equal(v, before[k]) for k, v in params(nlp).items())  # restored exactly
    assert "to_disk" not in vars(nlp)  # the next save is plain again
    layer = output_bias_layer(nlp, "textcat")
    loaded = spacy.load(tmp_path / "model")
    plan = plan_adjustment(nlp, list(dev_examples(nlp)), train=[eg.reference for eg in examples])
    assert numpy.abs(plan.delta).max() > 0
    numpy.testing.assert_allclose(
        output_bias_layer(loaded, "textcat").get_param("b"), layer.get_param("b") + plan.delta, rtol=1e-6
    )


def test_callback_refuses_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="dev_path .* does not exist"):
        make_logit_adjustment(dev_path=tmp_path / "absent.spacy")


@pytest.mark.slow
def test_adjust_command_and_the_result_loads_in_plain_spacy(tmp_path):
    from ..conftest import generated_corpus
    from ..training.test_callback_cli import PLAIN_LOAD
    from ..training.test_train_cli import init_config, train

    data = generated_corpus(tmp_path / "corpus", "textcat", n_train=150)
    cfg = init_config(tmp_path, "textcat")
    train(cfg, data, tmp_path / "out", "--training.max_epochs", "2")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "hamr",
            "adjust",
            str(tmp_path / "out" / "model-best"),
            str(data / "dev.spacy"),
            str(tmp_path / "adjusted"),
            "--prior",
            str(data / "train.spacy"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tau = " in result.stdout and "dev macro-F1" in result.stdout
    texts = ["storm wind flood item 3 a", "sun warm beach item 4 the"]
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_LOAD, str(tmp_path / "adjusted"), '["' + '", "'.join(texts) + '"]'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert len(out.strip().splitlines()[-1]) > 10


@pytest.mark.slow
def test_spacy_train_saves_model_best_adjusted(tmp_path):
    from thinc.api import Config

    from ..conftest import generated_corpus
    from ..training.test_train_cli import init_config, train

    data = generated_corpus(tmp_path / "corpus", "textcat", n_train=150)
    cfg = init_config(tmp_path, "textcat")
    config = Config().from_disk(cfg, interpolate=False)
    config["training"]["before_to_disk"] = {"@callbacks": "hamr.logit_adjustment.v1"}
    config.to_disk(cfg)
    log = train(cfg, data, tmp_path / "out", "--training.max_epochs", "2")
    assert "[hamr] Saved logit-adjusted: textcat: tau = " in log
    nlp = spacy.load(tmp_path / "out" / "model-best")  # plain spaCy, the callback is not needed to load
    assert nlp.pipe_names == ["textcat"]


def saved_with_batcher(tmp_path, batcher, draw_shares=None):
    """A trained textcat saved with `batcher` as its [training.batcher] (the block the command reads),
    and draw_shares, if given, recorded in its meta as the hamr.v1 callback records them."""
    from thinc.api import Config

    nlp, examples, _, _ = trained_pipeline("textcat_bow", steps=STEPS["textcat_bow"])
    if draw_shares is not None:
        record_draw_shares(nlp, draw_shares)
    nlp.to_disk(tmp_path / "model")
    config = Config().from_disk(tmp_path / "model" / "config.cfg", interpolate=False)
    config["training"]["batcher"] = batcher
    config.to_disk(tmp_path / "model" / "config.cfg")
    write_corpus(tmp_path / "train.spacy", examples)
    write_corpus(tmp_path / "dev.spacy", textcat_examples(60, seed=7))
    return tmp_path / "model"


HAMR_BATCHER = {"@batchers": "hamr.v1", "size": 1000}
DRAW_SHARES = {"big": 0.3, "mid": 0.3, "rare": 0.4}


def test_the_command_refuses_a_model_trained_on_draws_given_the_corpus_prior(tmp_path):
    from spacy_hamr.cli.adjust import adjust

    model = saved_with_batcher(tmp_path, HAMR_BATCHER)
    for prior in (tmp_path / "train.spacy", None):
        with pytest.raises(ValueError, match="resampled draws.*--draws-log.*--corpus-prior"):
            adjust(model, tmp_path / "dev.spacy", tmp_path / "out", prior=prior)
    assert not (tmp_path / "out").exists()  # refused before any work
    # Asked for by name, the corpus prior is taken.
    adjustment = adjust(
        model, tmp_path / "dev.spacy", tmp_path / "out", prior=tmp_path / "train.spacy", corpus_prior=True
    )
    assert adjustment.tau is not None and (tmp_path / "out" / "config.cfg").exists()


def test_a_model_trained_on_draws_is_adjusted_with_the_shares_its_meta_records(tmp_path):
    from spacy.training import Corpus

    from spacy_hamr.cli.adjust import adjust

    model = saved_with_batcher(tmp_path, HAMR_BATCHER, DRAW_SHARES)
    adjustment = adjust(model, tmp_path / "dev.spacy", tmp_path / "out")
    nlp = spacy.load(model)
    labels = list(nlp.get_pipe("textcat").labels)
    assert adjustment.prior == pytest.approx(DRAW_SHARES, abs=1e-5)
    assert adjustment.prior_name == f"the draws' class shares in {model / 'meta.json'}"
    expected = plan_adjustment(
        nlp, list(Corpus(tmp_path / "dev.spacy")(nlp)), prior=shares_prior([DRAW_SHARES], labels)
    )
    numpy.testing.assert_array_equal(adjustment.delta, expected.delta)
    # A corpus prior is taken only when asked for by name.
    with pytest.raises(ValueError, match="records their class shares.*leave out --prior.*--corpus-prior"):
        adjust(model, tmp_path / "dev.spacy", tmp_path / "out2", prior=tmp_path / "train.spacy")
    adjustment = adjust(
        model, tmp_path / "dev.spacy", tmp_path / "out2", prior=tmp_path / "train.spacy", corpus_prior=True
    )
    assert adjustment.prior_name == str(tmp_path / "train.spacy")


@pytest.mark.parametrize(
    "batcher", [{**HAMR_BATCHER, "resample": False}, {"@batchers": "spacy.batch_by_words.v1", "size": 1000}]
)
def test_a_model_trained_on_the_corpus_is_adjusted_with_the_corpus_prior(tmp_path, batcher):
    """Whatever its meta records: the model was trained on the corpus's distribution."""
    from spacy.training import Corpus

    from spacy_hamr.cli.adjust import adjust

    model = saved_with_batcher(tmp_path, batcher, DRAW_SHARES)
    adjustment = adjust(model, tmp_path / "dev.spacy", tmp_path / "out", prior=tmp_path / "train.spacy")
    nlp = spacy.load(model)
    expected = plan_adjustment(
        nlp, list(Corpus(tmp_path / "dev.spacy")(nlp)), train=read_docs(tmp_path / "train.spacy", nlp.vocab)
    )
    assert numpy.abs(expected.delta).max() > 0
    numpy.testing.assert_array_equal(adjustment.delta, expected.delta)


@pytest.mark.slow
def test_spacy_train_under_hamr_adjusts_with_the_draws_shares(tmp_path):
    """The callback's prior is the class shares the batcher logged, not the corpus's 0.7/0.2/0.1."""
    import srsly
    from thinc.api import Config

    from spacy_hamr.experiments.variants import variant_config

    from ..conftest import generated_corpus
    from ..training.test_train_cli import init_config, train

    data = generated_corpus(tmp_path / "corpus", "textcat", n_train=150)
    cfg = init_config(tmp_path, "textcat")
    config = variant_config(Config().from_disk(cfg, interpolate=False), "hamr_adjusted")
    config["training"]["batcher"]["log_path"] = str(tmp_path / "draws.jsonl")
    config.to_disk(cfg)
    log = train(cfg, data, tmp_path / "out", "--training.max_epochs", "3")
    saved = [line for line in log.splitlines() if line.startswith("[hamr] Saved logit-adjusted")]
    prior_text = saved[-1].split("prior from the hamr.v1 batcher's draws: ")[1]
    used = {label: float(share) for label, share in (item.split() for item in prior_text.split(", "))}
    labels = sorted(used)
    logged = draws_prior(tmp_path / "draws.jsonl", labels)
    assert len(list(srsly.read_jsonl(tmp_path / "draws.jsonl"))) == 3
    numpy.testing.assert_allclose([used[label] for label in labels], logged, atol=0.002)
    corpus = class_prior([eg.reference for eg in textcat_examples(150)], labels)
    assert numpy.abs(logged - corpus).max() > 0.1  # the draws are not the corpus's distribution


@pytest.mark.parametrize("resample", [True, False])
def test_the_callback_records_the_draws_shares_in_the_saved_meta(tmp_path, resample):
    """spaCy's loop in miniature: the shares recorded are those the batcher's
    log has over all epochs, and spaCy saves and loads them; none without resampling."""
    from thinc.api import fix_random_seed

    from spacy_hamr.training.batcher import configure_hamr_batcher
    from spacy_hamr.training.callback import make_hamr_callback

    nlp, examples, _, _ = trained_pipeline("textcat_bow", n=120, steps=2)
    nlp.config["training"]["batcher"] = {**HAMR_BATCHER, "resample": resample}
    fix_random_seed(0)
    batcher = configure_hamr_batcher(size=60, seed=0, resample=resample, log_path=tmp_path / "log.jsonl")
    callback = make_hamr_callback(weighting="none", seed=0)
    optimizer = nlp.resume_training()
    step = 0
    for epoch in range(3):
        for batch in batcher(examples):
            callback(nlp, {"step": step, "epoch": epoch})
            nlp.update(batch, sgd=optimizer, losses={})
            step += 1
    nlp.to_disk(tmp_path / "model")
    recorded = recorded_draw_shares(spacy.load(tmp_path / "model").meta)
    if not resample:
        assert recorded is None
        return
    labels = list(nlp.get_pipe("textcat").labels)
    logged = draws_prior(tmp_path / "log.jsonl", labels)  # the epochs' shares, each epoch 1.2 N draws
    numpy.testing.assert_allclose(shares_prior([recorded], labels), logged, atol=1e-9)
    corpus = class_prior([eg.reference for eg in examples], labels)
    assert numpy.abs(logged - corpus).max() > 0.1  # the draws are not the corpus's distribution


@pytest.mark.slow
def test_a_default_hamr_model_is_adjusted_with_nothing_else(tmp_path):
    """`spacy train` with the two HAMR blocks and nothing else, then `spacy hamr
    adjust MODEL DEV OUT`: the prior is the class shares the batcher logged,
    and both pipelines load and predict in plain spaCy."""
    from thinc.api import Config

    from spacy_hamr.experiments.variants import variant_config

    from ..conftest import generated_corpus
    from ..training.test_callback_cli import assert_plain_spacy
    from ..training.test_train_cli import init_config, train

    data = generated_corpus(tmp_path / "corpus", "textcat", n_train=150)
    cfg = init_config(tmp_path, "textcat")
    config = variant_config(Config().from_disk(cfg, interpolate=False), "hamr")
    assert config["training"]["batcher"].get("log_path") is None  # the default: no log to adjust from
    config.to_disk(cfg)
    log_path = tmp_path / "draws.jsonl"  # given on the command line, for the comparison only
    train(cfg, data, tmp_path / "out", "--training.max_epochs", "3", "--training.batcher.log_path", str(log_path))
    model = tmp_path / "out" / "model-last"
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "hamr", "adjust", str(model), str(data / "dev.spacy"), str(tmp_path / "adj")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "prior from the draws' class shares in" in " ".join(result.stdout.split())  # wasabi wraps lines
    # What the command did, in this process: the prior it took.
    from spacy_hamr.cli.adjust import adjust

    adjustment = adjust(model, data / "dev.spacy", tmp_path / "adj2")
    labels = list(adjustment.prior)
    logged = draws_prior(log_path, labels)
    numpy.testing.assert_allclose([adjustment.prior[label] for label in labels], logged, atol=0.002)
    corpus = class_prior([eg.reference for eg in textcat_examples(150)], labels)
    assert numpy.abs(logged - corpus).max() > 0.1  # the draws are not the corpus's distribution
    texts = ["storm wind flood item 3 a", "sun warm beach item 4 the", "rain wet cloud item 5 some"]
    for pipeline in (model, tmp_path / "adj"):
        assert_plain_spacy(pipeline, texts)
