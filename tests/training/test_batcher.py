"""The hamr.v1 batcher called the way spaCy's training loop calls it."""

import json
import math
import random
import warnings
from collections import Counter

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_hamr.errors import HamrWarning
from spacy_hamr.labels import NO_ENTITY, NO_LABEL
from spacy_hamr.training.batcher import configure_hamr_batcher
from spacy_hamr.training.shared_state import active_state

from ..conftest import ner_examples, textcat_examples


def one_epoch(batcher, examples):
    return [eg for batch in batcher(examples) for eg in batch]


def make_batcher(**settings):
    settings.setdefault("size", 64)
    settings.setdefault("seed", 0)
    return configure_hamr_batcher(**settings)


def last_epoch(log_path):
    """The statistics of the latest epoch, as the log_path JSONL has them."""
    return json.loads(log_path.read_text(encoding="utf8").splitlines()[-1])


def test_epoch_draws_ceil_ratio_n_with_replacement(tmp_path):
    examples = textcat_examples(101)
    drawn = one_epoch(make_batcher(log_path=tmp_path / "log.jsonl"), examples)
    assert len(drawn) == math.ceil(1.2 * 101)
    assert max(Counter(id(eg) for eg in drawn).values()) > 1
    stats = last_epoch(tmp_path / "log.jsonl")
    assert stats["draws"] == len(drawn) and stats["unique"] == len({id(eg) for eg in drawn})


def test_same_seed_same_draws_other_seed_other_draws():
    examples = textcat_examples(80)

    def texts(seed):
        batcher = make_batcher(seed=seed)
        return [[eg.reference.text for eg in one_epoch(batcher, examples)] for _ in range(2)]

    assert texts(3) == texts(3)
    assert texts(3) != texts(4)


def test_seed_follows_spacy_training_seed():
    examples = textcat_examples(50)

    def texts(training_seed):
        random.seed(training_seed)  # what spaCy's fix_random_seed does before training
        return [eg.reference.text for eg in one_epoch(make_batcher(seed=None), examples)]

    assert texts(11) == texts(11)
    assert texts(11) != texts(12)


def test_hardness_steers_the_draws():
    examples = textcat_examples(200)
    batcher = make_batcher(alpha=1.0, boost_weight=0.0)
    one_epoch(batcher, examples)
    state = active_state()
    state.hardness[:] = 1e-6
    state.hardness[:10] = 1.0  # ten hard examples
    drawn = one_epoch(batcher, list(reversed(examples)))  # spaCy reshuffles between epochs
    hard = sum(state.index_of(eg) < 10 for eg in drawn)
    assert hard / len(drawn) > 0.95


def test_identity_survives_spacy_copies():
    examples = textcat_examples(20)
    batch = next(iter(make_batcher()(examples)))
    state = active_state()
    copies = [Example(eg.x.copy(), eg.y) for eg in batch]  # what Language.update does
    assert state.indices_of(copies) == state.current_batch


def test_without_resampling_each_example_once_in_spacy_order():
    examples = textcat_examples(50)
    drawn = one_epoch(make_batcher(resample=False, size=1000), examples)
    assert [id(eg) for eg in drawn] == [id(eg) for eg in examples]


@pytest.mark.parametrize("settings", [{"class_power": 0.0}, {}], ids=["explicit", "textcat_default"])
def test_class_power_zero_balances_classes(settings, tmp_path):
    examples = textcat_examples(600, shares=(0.8, 0.15, 0.05))
    batcher = make_batcher(**settings, oversampling=10.0, size=10_000, log_path=tmp_path / "log.jsonl")
    one_epoch(batcher, examples)
    shares = last_epoch(tmp_path / "log.jsonl")["class_share"]
    for label in ("big", "mid", "rare"):
        assert shares[label] == pytest.approx(1 / 3, abs=0.03)


def test_default_base_rate_for_ner_is_square_root(tmp_path):
    examples = ner_examples(1000)
    counts = Counter(ent.label_ for eg in examples for ent in eg.reference.ents)
    one_epoch(make_batcher(oversampling=20.0, size=100_000, log_path=tmp_path / "log.jsonl"), examples)
    shares = last_epoch(tmp_path / "log.jsonl")["class_share"]
    expected_loc = counts["LOC"] ** 0.5 / (counts["LOC"] ** 0.5 + counts["PER"] ** 0.5)
    assert shares["LOC"] == pytest.approx(expected_loc, abs=0.02)


def test_ner_class_share_counts_entity_types(tmp_path):
    examples = ner_examples(200)
    one_epoch(make_batcher(resample=False, size=10_000, log_path=tmp_path / "log.jsonl"), examples)
    shares = last_epoch(tmp_path / "log.jsonl")["class_share"]
    assert set(shares) == {"LOC", "PER"}
    assert shares["LOC"] + shares["PER"] == pytest.approx(1.0)


def test_class_shares_count_every_class_of_each_draw(tmp_path):
    """Per epoch (the log) and over all draws so far (`draw_shares`, the prior of
    logit adjustment): the fraction of draws whose example carries the class."""
    examples = textcat_examples(120)
    for eg in examples[::4]:
        eg.reference.cats["rare"] = 1.0  # a second class: such an example counts for both
    batcher = make_batcher(log_path=tmp_path / "log.jsonl")
    epochs = [one_epoch(batcher, examples) for _ in range(2)]

    def shares(drawn):
        counts = Counter(label for eg in drawn for label, score in eg.reference.cats.items() if score >= 0.5)
        return {label: counts[label] / len(drawn) for label in sorted(counts)}

    logged = [json.loads(line)["class_share"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert logged == [pytest.approx(shares(drawn), abs=1e-9) for drawn in epochs]  # JSON keeps 10 digits
    assert sum(logged[0].values()) > 1.2  # the test has examples with two classes
    assert active_state().draw_shares() == shares(epochs[0] + epochs[1])


def test_padded_sizing_with_buffer():
    examples = textcat_examples(100)
    batches = list(make_batcher(size=40, buffer=16)(examples))
    for batch in batches:
        assert max(len(eg) for eg in batch) * len(batch) <= 40 or len(batch) == 1


def test_discard_oversize_keeps_batches_that_fill_the_size():
    """spaCy's batch_by_padded with discard_oversize drops every batch whose padded
    size reaches the size; hamr.v1 drops only the examples that alone exceed it."""
    from spacy.training.batchers import minibatch_by_padded_size

    examples = textcat_examples(100)  # 6 tokens each: 10 of them fill a size of 60
    nlp = spacy.blank("en")
    too_long = Example.from_dict(nlp.make_doc("word " * 61), {"cats": examples[0].reference.cats})
    # If spaCy stops dropping full batches, hamr.v1 can use its batcher again.
    assert sum(map(len, minibatch_by_padded_size(examples, size=60, buffer=50, discard_oversize=True))) == 0
    drawn = one_epoch(make_batcher(size=60, buffer=50, discard_oversize=True, resample=False), [*examples, too_long])
    assert len(drawn) == 100 and too_long not in drawn
    kept = one_epoch(make_batcher(size=60, buffer=50, discard_oversize=False, resample=False), [*examples, too_long])
    assert len(kept) == 101


def test_size_schedule_sizes_the_batches():
    examples = textcat_examples(100)  # 6 words each
    sizes = iter([10, 20, 40, 80] + [160] * 1000)
    words = [sum(len(eg) for eg in b) for b in make_batcher(size=sizes)(examples)]
    assert sum(words) == 120 * 6
    # batch_by_words fills each batch up to the schedule's size (tolerance 0.2)
    assert words[:5] == [6, 18, 36, 78, 156]


def test_neighbour_boost_refreshes_from_the_second_epoch():
    examples = textcat_examples(100)
    batcher = make_batcher(boost_weight=0.7, seed_fraction=0.1, n_neighbors=5)
    one_epoch(batcher, examples)
    state = active_state()
    assert not state.boost.any()
    state.hardness[:] = numpy.linspace(0.0, 1.0, len(state))
    one_epoch(batcher, examples)
    assert state.boost.max() == 1.0
    assert (state.boost > 0).sum() >= 5


def test_uniform_hardness_leaves_the_boost_off():
    examples = textcat_examples(60)
    batcher = make_batcher(boost_weight=0.7)
    with pytest.warns(HamrWarning, match="Hardness is uniform") as warned:
        for _ in range(3):
            one_epoch(batcher, examples)
    assert len(warned) == 1  # once per run, not every epoch
    assert not active_state().boost.any()


def test_batcher_alone_at_its_defaults_trains_without_the_boost_and_without_a_warning():
    examples = textcat_examples(60)
    batcher = make_batcher()
    with warnings.catch_warnings():
        warnings.simplefilter("error", HamrWarning)
        for _ in range(3):
            one_epoch(batcher, examples)
    assert not active_state().boost.any()


def test_textcat_docs_without_categories_count_as_no_label(tmp_path):
    examples = textcat_examples(20)
    examples[0].reference.cats = {}
    one_epoch(make_batcher(resample=False, size=10_000, log_path=tmp_path / "log.jsonl"), examples)
    shares = last_epoch(tmp_path / "log.jsonl")["class_share"]
    assert shares[NO_LABEL] == pytest.approx(1 / 20)
    assert NO_ENTITY not in shares


def test_embedder_checks_run_before_the_first_batch():
    checked = []

    class Embedder:
        def check(self, examples):
            checked.append(len(examples))

        def __call__(self, examples):
            raise AssertionError("embedded at epoch 0")

    next(iter(make_batcher(embedder=Embedder())(textcat_examples(7))))
    assert checked == [7]


def test_streaming_corpus_is_refused():
    with pytest.raises(ValueError, match="max_epochs"):
        next(iter(make_batcher()(iter(textcat_examples(5)))))


def test_changed_corpus_is_refused():
    batcher = make_batcher()
    one_epoch(batcher, textcat_examples(10))
    with pytest.raises(ValueError, match="changed between epochs"):
        one_epoch(batcher, textcat_examples(12))


@pytest.mark.parametrize(
    "setting,value",
    [
        ("alpha", -0.1),
        ("oversampling", 0.0),
        ("oversampling", -1.0),
        ("n_neighbors", 0),
        ("seed_fraction", 0.0),
        ("seed_fraction", 1.5),
        ("boost_every", 0),
        ("boost_weight", -1.0),
        ("class_power", -1.0),
    ],
)
def test_bad_settings_name_the_setting(setting, value):
    with pytest.raises(ValueError, match=rf"hamr.v1: {setting} must be"):
        make_batcher(**{setting: value})
