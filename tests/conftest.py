import os
import random
from pathlib import Path
from typing import List

import numpy
import pytest
import spacy
import spacy.ml.parser_model as parser_model
from spacy.tokens import DocBin
from spacy.training import Example

ROOT = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    """The paper's datasets: $HAMR_DATASETS, else ../shared/datasets beside the checkout."""
    return Path(os.environ.get("HAMR_DATASETS", ROOT.parent / "shared" / "datasets"))


def textcat_examples(n: int, shares=(0.7, 0.2, 0.1), seed: int = 0) -> List[Example]:
    """Generated, imbalanced 3-class examples ("big", "mid", "rare")."""
    nlp = spacy.blank("en")
    rng = random.Random(seed)
    labels = ["big", "mid", "rare"]
    words = {"big": "sun warm beach", "mid": "rain wet cloud", "rare": "storm wind flood"}
    examples = []
    for i in range(n):
        label = rng.choices(labels, weights=shares)[0]
        text = f"{words[label]} item {i} {rng.choice(['a', 'the', 'some'])}"
        doc = nlp.make_doc(text)
        examples.append(Example.from_dict(doc, {"cats": {name: float(name == label) for name in labels}}))
    return examples


def ner_example(vocab, words: List[str], ents: List[str]) -> Example:
    """An NER example over the given tokens, gold entities from BIO tags."""
    return Example(spacy.tokens.Doc(vocab, words=words), spacy.tokens.Doc(vocab, words=words, ents=ents))


def ner_examples(n: int, seed: int = 0) -> List[Example]:
    """Generated NER examples: many PER, few LOC."""
    nlp = spacy.blank("en")
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        if rng.random() < 0.15:
            words, ents = ["flew", "to", "Paris", str(i)], ["O", "O", "B-LOC", "O"]
        else:
            words, ents = ["Anna", "Smith", "said", str(i)], ["B-PER", "I-PER", "O", "O"]
        examples.append(ner_example(nlp.vocab, words, ents))
    return examples


def write_corpus(path: Path, examples: List[Example]) -> Path:
    """The examples' gold docs as a .spacy file."""
    DocBin(docs=[eg.reference for eg in examples]).to_disk(path)
    return path


def generated_corpus(folder: Path, task: str, n_train: int = 80, n_dev: int = 30) -> Path:
    """Generated train.spacy and dev.spacy for `task` ("textcat" or "ner") in `folder`."""
    make = textcat_examples if task == "textcat" else ner_examples
    folder.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("dev", n_dev, 1)):
        write_corpus(folder / f"{split}.spacy", make(n, seed=seed))
    return folder


class NoDropout:
    """Stands in for the parser's module-level ops, whose state dropout ignores `drop`."""

    def __init__(self, ops):
        self.ops = ops

    def get_dropout_mask(self, shape, rate):
        return numpy.ones(shape, dtype="f")

    def __getattr__(self, name):
        return getattr(self.ops, name)


@pytest.fixture
def parser_dropout_off(monkeypatch):
    monkeypatch.setattr(parser_model, "NUMPY_OPS", NoDropout(parser_model.NUMPY_OPS))
