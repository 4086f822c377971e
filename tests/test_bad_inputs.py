"""Bad inputs that once got a traceback, or nothing: each gets a message naming
the setting, file or example at fault before any work is done, and a legal but
suspicious one a HamrWarning naming it."""

import re
import warnings

import numpy
import pytest
import spacy
import srsly
from thinc.api import Config

from spacy_hamr.errors import HamrWarning
from spacy_hamr.logit_adjustment.adjust import plan_adjustment
from spacy_hamr.meta_weighting.loss_adapters import Visit
from spacy_hamr.training.batcher import configure_hamr_batcher
from spacy_hamr.training.shared_state import HamrState
from spacy_hamr.training.state_file import write_state

from .cli.test_cli import spacy_cli, write_dataset
from .conftest import generated_corpus, textcat_examples, write_corpus
from .label_errors.test_audit import audit, stops_before_training
from .training.test_train_cli import init_config
from .training.test_validation import resolve_training

LABELS = ("big", "mid", "rare")


def textcat_model(path, factory="textcat", exclusive_classes=True, steps=3):
    """A BOW `factory` pipeline over LABELS, trained a few steps, saved at `path`;
    returns (nlp, its training examples)."""
    model = {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": exclusive_classes,
        "ngram_size": 1,
        "no_output_layer": False,
    }
    nlp = spacy.blank("en")
    nlp.add_pipe(factory, config={"model": model})
    examples = textcat_examples(60)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, losses={})
    nlp.to_disk(path)
    return nlp, examples


def recorded_state(path, examples, epochs=2):
    """A state file as a recording run writes it: losses and predictions at one visit per epoch."""
    state = HamrState()
    state.bind(examples)
    rng = numpy.random.default_rng(0)
    rows = numpy.arange(len(examples))
    for _ in range(epochs):
        scores = rng.uniform(size=(len(examples), len(LABELS))).astype("f")
        state.record_visits(
            rows, Visit(rng.uniform(size=len(examples)), scores[:, 0], scores[:, 0] - scores[:, 1], scores, LABELS)
        )
        state.close_epoch()
    write_state(path, state, resampled=False)
    return path


@pytest.fixture(scope="module")
def textcat_config(tmp_path_factory):
    """`spacy init config -p textcat` with a dev corpus beside it."""
    folder = tmp_path_factory.mktemp("config")
    write_corpus(folder / "dev.spacy", textcat_examples(20, seed=1))
    return init_config(folder, "textcat"), folder / "dev.spacy"


def edited_config(config_path, path, section, key, value):
    """The config at config_path with [section] key = value, written to `path`."""
    config = Config().from_disk(config_path, interpolate=False)
    node = config
    for part in section.split("."):
        node = node[part]
    node[key] = value
    config.to_disk(path)
    return path


# 1. meta_path


@pytest.mark.parametrize("name", ["mtea.spacy", "meta.json", "empty_folder"])
def test_a_meta_path_that_is_not_a_corpus_is_named_when_the_config_is_resolved(tmp_path, name):
    corpus = generated_corpus(tmp_path / "corpus", "textcat")
    (tmp_path / "meta.json").write_text("[]")
    (tmp_path / "empty_folder").mkdir()
    path = tmp_path / name
    with pytest.raises(ValueError, match=rf"\[training.before_update\] hamr.v1: meta_path {re.escape(str(path))} "):
        resolve_training(callback=f'meta_path = "{path}"')
    # What spaCy's Corpus reads passes: a .spacy file, or a folder holding some.
    resolve_training(callback=f'meta_path = "{corpus / "dev.spacy"}"')
    resolve_training(callback=f'meta_path = "{corpus}"')


# 2. textcat examples without a positive category


@pytest.mark.parametrize("class_power,warned", [(None, True), (1.0, False)])
def test_textcat_examples_without_a_positive_category_are_named_when_they_become_a_class(class_power, warned):
    examples = textcat_examples(40)
    for eg in examples[5:8]:
        eg.reference.cats = {label: 0.0 for label in eg.reference.cats}
    batcher = configure_hamr_batcher(size=100, seed=0, class_power=class_power)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        next(iter(batcher(examples)))
    named = [
        " ".join(str(w.message).split())
        for w in record
        if issubclass(w.category, HamrWarning) and "no positive category" in str(w.message)
    ]
    if not warned:  # drawn at their corpus rate: nothing to say
        assert not named, named
        return
    assert len(named) == 1, named
    message = named[0]
    assert "3 of 40 training examples have no positive category" in message
    assert all(eg.reference.text[:30] in message for eg in examples[5:8]), message
    assert "(no label)" in message and "25% of the draws" in message


# 3. find-label-errors with a train corpus that ignores [paths] train


def test_an_audit_whose_train_corpus_is_not_the_fold_is_refused(tmp_path, textcat_config):
    config, dev = textcat_config
    train = write_corpus(tmp_path / "train.spacy", textcat_examples(40))
    hard_coded = edited_config(config, tmp_path / "hard_coded.cfg", "corpora.train", "path", str(train))
    # Run quickly on the code that lacks the check: 2 folds of one epoch.
    result = audit(tmp_path, hard_coded, train, "--paths.dev", dev, "--folds", 2, "--training.max_epochs", 1)
    stops_before_training(tmp_path, result, f"[corpora.train] path = '{train}'")
    assert "${paths.train}" in result.output


# 4. adjust with a dev file that lacks a class


def test_adjust_names_the_classes_the_dev_file_lacks(tmp_path):
    _, examples = textcat_model(tmp_path / "model")
    train = write_corpus(tmp_path / "train.spacy", examples)
    dev = write_corpus(tmp_path / "dev.spacy", textcat_examples(30, shares=(0.7, 0.3, 0.0), seed=3))
    with pytest.warns(HamrWarning, match=rf"The dev corpus {re.escape(str(dev))} has no example of rare") as record:
        result = spacy_cli("hamr", "adjust", tmp_path / "model", dev, tmp_path / "adjusted", "--prior", train)
    assert result.exit_code == 0, result.output
    assert len([w for w in record if "has no example of" in str(w.message)]) == 1


# 5. convert on a user's own JSON


CALM = [
    {"text": "calm day", "label": 0, "label_text": "calm"},
    {"text": "storm now", "label": 1, "label_text": "storm"},
]
ANNA = srsly.json_dumps({"tokens": ["Anna", "said"], "ner_tags": ["B-PER", "O"]}) + "\n"


@pytest.mark.parametrize(
    "splits,expected",
    [
        (
            {"train": CALM, "dev": [CALM[0], {"text": "storm", "label": 1}], "test": CALM},
            "dev.json, record 1: it has no label_text (its fields: label, text)",
        ),
        (
            {"train": ANNA.replace("ner_tags", "tags"), "dev": ANNA, "test": ANNA},
            "train.json, record 0 (line 1): it has no ner_tags (its fields: tags, tokens)",
        ),
    ],
)
def test_convert_names_the_file_record_and_field_a_users_json_lacks(tmp_path, splits, expected):
    folder = tmp_path / "mine"
    folder.mkdir()
    for split, records in splits.items():  # JSON lines given as text, a JSON array as records
        path = folder / f"{split}.json"
        path.write_text(records) if isinstance(records, str) else srsly.write_json(path, records)
    result = spacy_cli("hamr", "convert", folder, tmp_path / "corpus")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"{folder / expected}" in " ".join(result.output.split()), result.output
    assert not (tmp_path / "corpus").exists()  # checked before anything is written


def test_convert_takes_a_dataset_without_test_json_and_says_so(tmp_path):
    split = [{"text": f"text {i}", "label": i % 2, "label_text": ["calm", "storm"][i % 2]} for i in range(4)]
    folder = write_dataset(tmp_path / "mine", {"train": split, "dev": split})
    result = spacy_cli("hamr", "convert", folder, tmp_path / "corpus")
    assert result.exit_code == 0, result.output
    assert "Converted mine: train 4, dev 4" in result.output
    assert f"skipped test: {folder / 'test.json'} does not exist" in " ".join(result.output.split())
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == ["dev.spacy", "train.spacy"]


# 6. textcat scores that are not a distribution over the classes


def test_adjust_takes_a_textcat_with_one_sigmoid_per_label(tmp_path):
    nlp, examples = textcat_model(tmp_path / "model", exclusive_classes=False)
    adjustment = plan_adjustment(nlp, textcat_examples(30, seed=3), train=[eg.reference for eg in examples])
    assert adjustment.tau is not None and adjustment.after >= adjustment.before


def test_adjust_refuses_a_multilabel_textcat_with_a_softmax_naming_the_setting(tmp_path):
    nlp, examples = textcat_model(tmp_path / "model", "textcat_multilabel", exclusive_classes=True)
    with pytest.raises(ValueError, match=r"'textcat_multilabel' .*exclusive_classes = true"):
        plan_adjustment(nlp, textcat_examples(30, seed=3), train=[eg.reference for eg in examples])


def test_hard_examples_does_not_read_sigmoid_scores_as_a_distribution(tmp_path):
    from spacy_hamr.cli.hard_examples import hard_examples

    _, examples = textcat_model(tmp_path / "model", exclusive_classes=False)
    train = write_corpus(tmp_path / "train.spacy", examples)
    state = recorded_state(tmp_path / "state.npz", examples)
    with pytest.warns(
        HamrWarning,
        match=r"'textcat' scores each label with its own sigmoid \(exclusive_classes "
        r"= false in \[components.textcat.model\]\)",
    ):
        report = hard_examples(tmp_path / "model", train, state, tmp_path / "report", top_k=3)
    assert report.summary["ranking"] == "relative loss x hardness"
    assert "suspects" not in report.summary and all("confidence" not in r for r in report.records)


def test_the_audit_refuses_a_textcat_with_one_sigmoid_per_label(tmp_path, textcat_config):
    config, dev = textcat_config
    train = write_corpus(tmp_path / "train.spacy", textcat_examples(40))
    sigmoid = edited_config(config, tmp_path / "sigmoid.cfg", "components.textcat.model", "exclusive_classes", False)
    result = audit(tmp_path, sigmoid, train, "--paths.dev", dev, "--folds", 2, "--training.max_epochs", 1)
    stops_before_training(tmp_path, result, "'textcat' has exclusive_classes = false")


# 7. hard-examples with an output folder it cannot write


def test_hard_examples_checks_its_output_folder_before_any_work(tmp_path, monkeypatch):
    _, examples = textcat_model(tmp_path / "model")
    train = write_corpus(tmp_path / "train.spacy", examples)
    state = recorded_state(tmp_path / "state.npz", examples)
    (tmp_path / "taken").write_text("a file, where the output folder's parent should be")

    def work(*args, **kwargs):
        raise AssertionError("the report was built before the output folder was checked")

    monkeypatch.setattr("spacy_hamr.label_errors.report.build_report", work)
    output = tmp_path / "taken" / "report"
    result = spacy_cli("hamr", "hard-examples", tmp_path / "model", train, state, "--output", output)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"The output folder {output} cannot be created" in " ".join(result.output.split()), result.output
