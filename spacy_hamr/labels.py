"""Which class an example stands for, for class statistics and class-balanced priors.

A text classification example counts for its gold categories (score >= POSITIVE),
or `NO_LABEL`; an NER example for the entity types it contains, or `NO_ENTITY`.
A corpus is a text classification corpus when any of its docs has categories.
"""

from collections import Counter
from typing import Dict, Iterable, List, Sequence

import numpy
from spacy.tokens import Doc

NO_ENTITY = "(no entity)"
NO_LABEL = "(no label)"
# A category is gold (or predicted) when its score reaches this, as spaCy's textcat scorer decides.
POSITIVE = 0.5


def positive_categories(cats: Dict[str, float]) -> List[str]:
    """The categories of a doc whose score is at least POSITIVE, sorted."""
    return sorted(label for label, score in cats.items() if score >= POSITIVE)


def is_textcat(docs: Iterable[Doc]) -> bool:
    """True for a text classification corpus (some doc has gold categories), False for NER."""
    return any(doc.cats for doc in docs)


def doc_labels(doc: Doc, textcat: bool) -> List[str]:
    """The gold classes of one reference doc (sorted, unique) in a textcat or NER corpus."""
    if textcat:
        return positive_categories(doc.cats) or [NO_LABEL]
    types = sorted({ent.label_ for ent in doc.ents})
    return types or [NO_ENTITY]


def corpus_labels(docs: Sequence[Doc]) -> List[List[str]]:
    """The gold classes of each doc, the corpus deciding the task: a doc without
    categories in a textcat corpus is `NO_LABEL`, not `NO_ENTITY`."""
    textcat = is_textcat(docs)
    return [doc_labels(doc, textcat) for doc in docs]


def label_counts(labels: Sequence[List[str]]) -> Counter:
    """How many examples carry each class."""
    return Counter(label for example in labels for label in example)


def primary_labels(labels: Sequence[List[str]]) -> List[str]:
    """Each example's rarest class: the one that decides its class-balanced rate."""
    counts = label_counts(labels)
    return [min(example, key=lambda label: (counts[label], label)) for example in labels]


def balanced_prior(labels: Sequence[List[str]], power: float) -> numpy.ndarray:
    """Per-example base rate that gives class c a share proportional to n_c ** power.

    power = 0 is class-balanced oversampling (every class equally often),
    power = 0.5 square-root sampling, power = 1 the corpus' own distribution.
    """
    primary = primary_labels(labels)
    counts = Counter(primary)
    mass: Dict[str, float] = {c: n**power for c, n in counts.items()}
    total = sum(mass.values())
    prior = numpy.array([mass[c] / total / counts[c] for c in primary], dtype="float64")
    return prior / prior.sum()


def macro_loss_weights(labels: Sequence[List[str]]) -> numpy.ndarray:
    """Per-example weights (mean 1) that turn a batch's mean loss into its macro loss.

    The macro loss is the mean over the batch's classes of each class's mean
    loss. An example carrying several classes (an NER sentence with two entity
    types; sentences without entities are the `NO_ENTITY` group) shares in each:
    w_i = B / C * sum over its classes c of 1 / n_c, so that
    mean_i(w_i l_i) = 1/C sum_c mean_{i in c} l_i.
    """
    counts = label_counts(labels)
    share = numpy.array([sum(1.0 / counts[c] for c in example) for example in labels], dtype="float64")
    return share * len(labels) / len(counts)


def class_counts(docs: Iterable[Doc]) -> Counter:
    """Gold class mentions: positive categories (score >= POSITIVE) of text
    classification docs, entity mentions per type of NER docs."""
    counts: Counter = Counter()
    for doc in docs:
        if doc.cats:
            counts.update(positive_categories(doc.cats))
        else:
            counts.update(ent.label_ for ent in doc.ents)
    return counts
