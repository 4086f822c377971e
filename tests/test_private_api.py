"""The private spaCy and thinc API that spacy_hamr._private_api wraps: each test
fails loudly when a spaCy or thinc release changes what HAMR relies on."""

import spacy
import torch
from thinc.api import PyTorchShim

from spacy_hamr._private_api import (
    batch_by_length,
    config_overrides,
    examples_to_truth,
    replace_component,
    torch_module,
)

from .conftest import textcat_examples


def test_textcat_truth_arrays():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("textcat")
    examples = textcat_examples(6)
    nlp.initialize(lambda: examples)
    truths, not_missing = examples_to_truth(pipe, examples)
    assert truths.shape == not_missing.shape == (6, len(pipe.labels))
    for row, eg in zip(truths.tolist(), examples):
        assert row == [eg.reference.cats[label] for label in pipe.labels]
    assert not_missing.min() == 1.0


def test_replacing_a_component_keeps_its_place_and_name():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer", name="first")
    nlp.add_pipe("sentencizer", name="second")
    stand_in = nlp.create_pipe("sentencizer")
    replace_component(nlp, "first", stand_in)
    assert nlp.pipe_names == ["first", "second"] and nlp.get_pipe("first") is stand_in
    assert nlp.pipeline[0] == ("first", stand_in)


def test_torch_module_of_a_shim():
    module = torch.nn.Linear(2, 1)
    assert torch_module(PyTorchShim(module)) is module
    assert torch_module(object()) is None


def test_config_overrides_are_parsed_as_spacy_train_does():
    assert config_overrides(["--paths.dev", "dev.spacy", "--training.max_epochs", "3"]) == {
        "paths.dev": "dev.spacy",
        "training.max_epochs": 3,
    }


def test_batch_by_length_packs_padded_batches_longest_first():
    lengths = [3, 1, 2, 2, 5, 1]
    batches = batch_by_length(lengths, 6, lambda n: n)
    assert sorted(i for batch in batches for i in batch) == list(range(6))
    assert all(max(lengths[i] for i in batch) * len(batch) <= 6 for batch in batches if len(batch) > 1)
    assert batches[0] == [4]  # the longest sequence first
