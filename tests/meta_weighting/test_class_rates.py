"""The class-balanced meta set held out of training, the macro meta loss, and
meta-learned class rates: settings, bookkeeping, and that the defaults are
unchanged. (The class-summed hypergradient against brute force is in
test_hypergradient.py.)"""

import json
from collections import Counter

import numpy
import pytest
from spacy.tokens import DocBin
from thinc.api import fix_random_seed

from spacy_hamr.labels import macro_loss_weights, primary_labels
from spacy_hamr.meta_weighting.class_rates import ClassRates
from spacy_hamr.meta_weighting.meta_set import balanced_meta_indices, make_balanced_meta
from spacy_hamr.meta_weighting.weight_net import MAX_WEIGHT, MIN_WEIGHT, WeightNet, make_optimizer
from spacy_hamr.training.batcher import configure_hamr_batcher
from spacy_hamr.training.callback import make_hamr_callback
from spacy_hamr.training.epoch_stats import format_statistics

from ..conftest import ner_examples, textcat_examples
from ..pipelines import trained_pipeline


def short_run(tmp_path, epochs=3, resample=True, **settings):
    """spaCy's training loop in miniature: (state, the examples each update trained on)."""
    nlp, examples, _, _ = trained_pipeline("textcat_bow", n=120, steps=2)
    dev = textcat_examples(30, shares=(0.6, 0.3, 0.1), seed=5)
    DocBin(docs=[eg.reference for eg in dev]).to_disk(tmp_path / "meta.spacy")
    fix_random_seed(0)
    (tmp_path / "log.jsonl").unlink(missing_ok=True)
    batcher = configure_hamr_batcher(size=60, seed=0, resample=resample, log_path=tmp_path / "log.jsonl")
    callback = make_hamr_callback(meta_path=tmp_path / "meta.spacy", meta_every=2, seed=0, **settings)
    optimizer = nlp.resume_training()
    trained, step = [], 0
    for epoch in range(epochs):
        for batch in batcher(examples):
            callback(nlp, {"step": step, "epoch": epoch})  # before_update: after the draw
            trained.append(list(batch))  # what spaCy's update then gets
            nlp.update(batch, sgd=optimizer, losses={})
            step += 1
    return callback.state, trained


def logged_rates(tmp_path):
    """The class rates each epoch's log line gives (learned in that epoch, applied in the next)."""
    lines = (tmp_path / "log.jsonl").read_text(encoding="utf8").splitlines()
    return [json.loads(line)["class_rates"] for line in lines if "class_rates" in json.loads(line)]


def summary(state):
    """sum(w - 1) and sum((w - 1)^2) of the last weights, the hardness' centre
    of mass, and the sum of the last losses."""
    d = state.last_weight - 1
    return (
        float(d.sum()),
        float((d**2).sum()),
        float(state.hardness @ numpy.arange(len(state))),
        float(numpy.nansum(state.last_loss)),
    )


def test_defaults_are_unchanged(tmp_path):
    """The defaults are the settings that leave the meta-learning as it was,
    compared in one process (numbers recorded on another CPU would differ
    with its BLAS kernels)."""
    state, _ = short_run(tmp_path)
    assert state.class_rates is None and not state.held_out.any()
    explicit, _ = short_run(
        tmp_path, meta_set="dev", meta_loss="mean", class_rates="off", meta_weight_decay=1e-4, meta_decay="coupled"
    )
    assert summary(explicit) == summary(state)
    assert numpy.array_equal(explicit.hardness, state.hardness)
    # The summary sees a change of one of these settings, so the equality above can fail.
    decoupled, _ = short_run(tmp_path, meta_decay="decoupled", meta_weight_decay=0.5)
    assert summary(decoupled) != summary(state)


@pytest.mark.parametrize("resample", [True, False])
def test_held_out_examples_are_never_trained_on(tmp_path, resample, capsys):
    state, trained = short_run(tmp_path, resample=resample, meta_set="balanced", class_rates="loss")
    held = set(numpy.flatnonzero(state.held_out).tolist())
    assert held
    seen = {state.index_of(eg) for batch in trained for eg in batch}
    assert not seen & held
    assert state.visits[list(held)].sum() == 0
    if not resample:  # spaCy's epochs: every other example, once per epoch
        assert seen == set(range(len(state))) - held
    out = capsys.readouterr().out
    assert "[hamr] Balanced meta set: 30 meta examples + " in out and "held out" in out
    assert "class rates:" in out


def test_first_batch_is_cleaned_in_place(tmp_path):
    """spaCy draws the first batch before the callback chooses the meta set."""
    from spacy_hamr.training.shared_state import HamrState

    state = HamrState()
    examples = textcat_examples(10)
    state.bind(examples)
    batch = examples[:4]
    state.current_examples, state.current_batch = batch, [0, 1, 2, 3]
    state.hold_out([1, 3, 7])
    assert batch == [examples[0], examples[2]] and state.current_batch == [0, 2]
    assert state.trainable([5, 7, 9, 1]) == [0, 2]


def test_balanced_meta_takes_at_most_half_of_a_class():
    train = [eg.reference for eg in textcat_examples(100, shares=(0.8, 0.15, 0.05), seed=1)]
    dev = [eg.reference for eg in textcat_examples(60, shares=(0.5, 0.4, 0.1), seed=2)]
    primary = primary_labels([[max(d.cats, key=d.cats.get)] for d in train])
    available = Counter(primary)
    uncapped = Counter(primary[i] for i in balanced_meta_indices(train, dev, seed=0))
    capped = Counter(primary[i] for i in balanced_meta_indices(train, dev, seed=0, max_share=0.5))
    assert uncapped["rare"] > available["rare"] // 2  # the cap binds for the rare class
    assert capped["rare"] == available["rare"] // 2
    assert all(capped[c] <= available[c] // 2 for c in available)
    # make_meta's split is the same choice without the cap.
    rest, meta = make_balanced_meta(train, dev, seed=0)
    assert len(meta) - len(dev) == sum(uncapped.values())


def test_balanced_ner_meta_cap_counts_every_type_of_a_sentence():
    train = [eg.reference for eg in ner_examples(60, seed=1)]
    dev = [eg.reference for eg in ner_examples(40, seed=3)]
    moved = balanced_meta_indices(train, dev, seed=0, max_share=0.5)
    with_loc = [i for i, d in enumerate(train) if any(e.label_ == "LOC" for e in d.ents)]
    assert 0 < sum(i in with_loc for i in moved) <= len(with_loc) // 2


def test_same_seed_same_class_rates_and_weights(tmp_path):
    runs, logs = [], []
    for _ in range(2):
        runs.append(short_run(tmp_path, meta_set="balanced", class_rates="both", meta_decay="decoupled")[0])
        logs.append(logged_rates(tmp_path))
    assert runs[0].class_rates.rates() == runs[1].class_rates.rates()
    assert numpy.array_equal(runs[0].last_weight, runs[1].last_weight)
    assert numpy.array_equal(runs[0].held_out, runs[1].held_out)
    assert logs[0] == logs[1] and len(logs[0]) == 3


def test_class_rates_only_weights_by_class(tmp_path):
    state, _ = short_run(tmp_path, epochs=4, weighting="none", meta_set="balanced", class_rates="loss")
    applied = logged_rates(tmp_path)[-2]  # learned in epoch 2, applied in epoch 3 (the last)
    assert max(abs(r - 1.0) for r in applied.values()) > 0.05  # they learned something
    primary = primary_labels(state.labels)
    last_epoch = numpy.flatnonzero(numpy.isfinite(state.epoch_losses[-1]))
    assert len(last_epoch) > 20
    for i in last_epoch:  # no weight net: an example's weight is its class's rate
        assert state.last_weight[i] == pytest.approx(applied[primary[i]])


def test_class_rates_follow_the_class_sums():
    labels = [["a"]] * 4 + [["b"]] * 4 + [["c"]] * 2
    rates = ClassRates(labels, learn_rate=0.1, act_on="loss", bounds=(MIN_WEIGHT, MAX_WEIGHT))
    rng = numpy.random.default_rng(0)
    for _ in range(20):  # class a helps the meta loss (negative), b hurts, c is noise
        idx = numpy.arange(10)
        g = numpy.where(idx < 4, -1e-5, numpy.where(idx < 8, 1e-5, 0.0)) + 1e-6 * rng.standard_normal(10)
        rates.accumulate(idx, g)
    out = rates.end_epoch()
    assert out["a"] > 1 > out["b"]
    assert numpy.isclose(numpy.log(list(out.values())).sum(), 0.0)  # centred: geometric mean 1
    assert numpy.log(out["a"]) - numpy.log(out["b"]) == pytest.approx(2 * 0.1 * 3.0)  # capped steps
    numpy.testing.assert_allclose(rates.loss_factors(numpy.array([0, 5])), [out["a"], out["b"]])
    assert (rates.sampling_factors() == 1).all()  # act_on = "loss" leaves sampling alone
    for _ in range(100):
        rates.accumulate(numpy.arange(4), numpy.full(4, -1.0))
        rates.end_epoch()
    assert max(rates.rates().values()) <= MAX_WEIGHT and min(rates.rates().values()) >= MIN_WEIGHT
    assert rates.end_epoch() == rates.rates()  # an epoch without meta steps changes nothing


def test_macro_loss_weights_give_the_mean_of_class_means():
    labels = [["a"], ["a"], ["a"], ["b"], ["a", "c"]]
    losses = numpy.array([1.0, 2.0, 3.0, 10.0, 4.0])
    w = macro_loss_weights(labels)
    assert float(numpy.mean(w * losses)) == pytest.approx((2.5 + 10.0 + 4.0) / 3)


def test_class_rates_in_the_log_line():
    line = format_statistics(
        {
            "epoch": 1,
            "draws": 10,
            "unique": 8,
            "max_repeats": 2,
            "class_share": {"a": 1.0},
            "class_rates": {"a": 1.25, "b": 0.8},
        }
    )
    assert "; class rates: a 1.25, b 0.80;" in line


def test_decoupled_weight_decay_is_adamw():
    net = WeightNet(seed=0)
    assert type(make_optimizer(net, 1e-4, 1e-4, decoupled=True)).__name__ == "AdamW"
    assert type(make_optimizer(net, 1e-4)).__name__ == "Adam"


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"class_rates": "loss", "weighting": "inverse_frequency"}, "class_rates applies with"),
        ({"meta_set": "balanced", "weighting": "none"}, "meta_set = 'balanced' needs meta steps"),
        ({"class_rate_lr": 0.0, "class_rates": "loss"}, "class_rate_lr must be"),
        ({"meta_weight_decay": -1.0}, "meta_weight_decay must be"),
        ({"meta_weight_decay": "0"}, "meta_weight_decay must be a number"),
        ({"class_rates": "sometimes"}, "class_rates must be one of"),
        ({"meta_set": "train"}, "meta_set must be one of"),
        ({"meta_decay": "adamw"}, "meta_decay must be one of"),
        ({"meta_loss": "median"}, "meta_loss must be one of"),
        ({"meta_loss": "macro", "weighting": "none"}, "meta_loss = 'macro' needs meta steps"),
    ],
)
def test_bad_meta_learning_settings_are_named(settings, message):
    with pytest.raises(ValueError, match=message):
        make_hamr_callback(**settings)


def test_draws_keep_the_class_balance_over_what_is_not_held_out():
    examples = textcat_examples(300, shares=(0.8, 0.15, 0.05), seed=3)
    batcher = configure_hamr_batcher(size=64, seed=0, alpha=0.0, boost_weight=0.0)
    list(batcher(examples))
    state = batcher.state
    primary = primary_labels(state.labels)
    rare = [i for i, c in enumerate(primary) if c == "rare"]
    state.hold_out(rare[: len(rare) // 2] + [i for i, c in enumerate(primary) if c == "big"][:50])
    drawn = Counter(primary[state.index_of(eg)] for _ in range(5) for batch in batcher(examples) for eg in batch)
    shares = numpy.array([drawn[c] for c in ("big", "mid", "rare")]) / sum(drawn.values())
    numpy.testing.assert_allclose(shares, 1 / 3, atol=0.03)


def test_sampling_rates_move_the_class_shares(tmp_path):
    examples = textcat_examples(300, shares=(0.8, 0.15, 0.05), seed=3)
    batcher = configure_hamr_batcher(size=64, seed=0, alpha=0.0, boost_weight=0.0, log_path=tmp_path / "log.jsonl")
    list(batcher(examples))
    state = batcher.state
    state.class_rates = ClassRates(state.labels, 0.1, "sampling", (MIN_WEIGHT, MAX_WEIGHT))
    state.class_rates.log_rates[:] = numpy.log([1.0, 1.0, 2.0])  # big, mid, rare
    primary = primary_labels(state.labels)
    drawn = Counter(primary[state.index_of(eg)] for _ in range(5) for batch in batcher(examples) for eg in batch)
    assert drawn["rare"] / sum(drawn.values()) == pytest.approx(0.5, abs=0.04)
    assert len(logged_rates(tmp_path)) == 5  # the log has them every epoch they were on


def test_macro_meta_loss_on_the_dev_set_holds_nothing_out(tmp_path, capsys):
    state, _ = short_run(tmp_path, weighting="none", meta_loss="macro", class_rates="loss", epochs=2)
    assert not state.held_out.any() and "Balanced meta set" not in capsys.readouterr().out
    mean, _ = short_run(tmp_path, weighting="none", class_rates="loss", epochs=2)
    assert state.class_rates.rates() != mean.class_rates.rates()  # the macro loss changed what was learned
