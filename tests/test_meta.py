"""The class-balanced meta split, the paper's way."""
import pytest

from spacy_hamr.meta import make_balanced_meta
from spacy_hamr.scoring import class_counts

from .conftest import ner_examples, textcat_examples


def test_textcat_dev_is_topped_up_to_the_median_class_count():
    train = [eg.reference for eg in textcat_examples(300, shares=(0.7, 0.2, 0.1), seed=1)]
    dev = [eg.reference for eg in textcat_examples(40, shares=(0.6, 0.3, 0.1), seed=2)]
    rest, meta = make_balanced_meta(train, dev)
    target = sorted(class_counts(dev).values())[1]  # median of three classes
    assert all(n >= target for n in class_counts(meta).values())
    assert len(rest) + len(meta) == len(train) + len(dev)  # moved, not copied
    assert not {id(d) for d in rest} & {id(d) for d in meta}


def test_ner_balances_entity_counts_per_type():
    train = [eg.reference for eg in ner_examples(300, seed=1)]
    dev = [eg.reference for eg in ner_examples(30, seed=2)]
    rest, meta = make_balanced_meta(train, dev)
    dev_counts, meta_counts = class_counts(dev), class_counts(meta)
    median = sorted(dev_counts.values())[len(dev_counts) // 2 - 1 : len(dev_counts) // 2 + 1]
    assert meta_counts["LOC"] >= min(median)
    assert meta_counts["PER"] == dev_counts["PER"]  # nothing moved for the common type
    assert len(rest) == len(train) - (len(meta) - len(dev))


def test_empty_dev_corpus_is_named():
    train = [eg.reference for eg in textcat_examples(20)]
    with pytest.raises(ValueError, match="The dev corpus is empty"):
        make_balanced_meta(train, [])


@pytest.mark.parametrize("train_task,dev_task", [("ner", "textcat"), ("textcat", "ner")])
def test_corpora_of_different_tasks_are_refused(train_task, dev_task):
    corpora = {"ner": [eg.reference for eg in ner_examples(20)],
               "textcat": [eg.reference for eg in textcat_examples(20)]}
    kind = {"ner": "an NER corpus", "textcat": "a textcat corpus"}
    with pytest.raises(ValueError, match=rf"train corpus is {kind[train_task]}.*dev corpus is {kind[dev_task]}"):
        make_balanced_meta(corpora[train_task], corpora[dev_task])


def test_corpora_without_any_annotation_are_refused():
    unannotated = [eg.predicted for eg in ner_examples(10)]
    with pytest.raises(ValueError, match="no classes to balance"):
        make_balanced_meta(unannotated, unannotated[:3])
