"""The meta set: what the weight net is trained to do well on.

By default it is the config's own dev corpus (as the reference code does).
`make_balanced_meta` builds the paper's class-balanced meta split instead:
dev topped up from train to the median per-class count of dev, moving the
examples out of train; for NER the balance is over entity counts per type,
filled greedily. `balanced_meta_indices` is the same choice as positions in the
training corpus, for the callback's in-process meta set (`meta_set = "balanced"`),
which holds those examples out of training instead of rewriting the corpus.
"""

import random
import warnings
from collections import Counter
from pathlib import Path
from statistics import median
from typing import List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..corpus import read_examples
from ..errors import CALLBACK_BLOCK, HamrWarning
from ..labels import (
    NO_ENTITY,
    NO_LABEL,
    class_counts,
    corpus_labels,
    doc_labels,
    is_textcat,
    label_counts,
    primary_labels,
)


def read_meta_examples(nlp: Language, meta_path: Optional[Path]) -> List[Example]:
    """The meta corpus: `meta_path` if given, else [training] dev_corpus."""
    examples, where = read_examples(nlp, meta_path, "dev_corpus")
    if not examples:
        raise ValueError(f"{CALLBACK_BLOCK}: the meta corpus {where} is empty.")
    return examples


def check_meta_labels(train_labels: Sequence[List[str]], meta: Sequence[Example]) -> List[str]:
    """Warn about training classes the meta set lacks (the net cannot learn to favour them)."""
    ignore = {NO_LABEL, NO_ENTITY}
    meta_labels = corpus_labels([eg.reference for eg in meta])
    missing = sorted(set(label_counts(train_labels)) - set(label_counts(meta_labels)) - ignore)
    if missing:
        warnings.warn(
            f"The meta set has no example of {', '.join(missing)}: the weight net is "
            "trained without them. `python -m spacy hamr make-meta` builds a balanced meta set.",
            HamrWarning,
            stacklevel=2,
        )
    return missing


def make_balanced_meta(train: Sequence[Doc], dev: Sequence[Doc], seed: int = 0) -> Tuple[List[Doc], List[Doc]]:
    """Return (train without the moved docs, meta = dev + moved docs).

    Raises ValueError when a corpus is empty, when one corpus is annotated for
    textcat and the other for NER, or when NER corpora hold no entity at all.
    """
    moved = balanced_meta_indices(train, dev, seed)
    taken = set(moved)
    return [d for i, d in enumerate(train) if i not in taken], list(dev) + [train[i] for i in moved]


def balanced_meta_indices(
    train: Sequence[Doc], dev: Sequence[Doc], seed: int = 0, max_share: Optional[float] = None
) -> List[int]:
    """Positions in `train` of the docs that top dev up to the median class count of dev.

    max_share (float or None): Move at most this share of a class's training docs
        (textcat: docs whose rarest class it is; NER: sentences with the type),
        so that topping up a rare class does not take most of its training data.
    Raises as `make_balanced_meta` does.
    """
    textcat = _shared_task(train, dev)
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    return _top_up_classes(train, dev, order, max_share) if textcat else _top_up_ner(train, dev, order, max_share)


def _cap(available: int, max_share: Optional[float]) -> int:
    """How many of a class's `available` training docs may move."""
    return available if max_share is None else int(max_share * available)


def _shared_task(train: Sequence[Doc], dev: Sequence[Doc]) -> bool:
    """The task both corpora are annotated for (True: textcat, False: NER)."""
    corpora = {"train": train, "dev": dev}
    for name, docs in corpora.items():
        if not docs:
            raise ValueError(
                f"The {name} corpus is empty: the meta set is the dev corpus "
                "topped up from the train corpus, so both need docs."
            )
    textcat = {name: is_textcat(docs) for name, docs in corpora.items()}
    if textcat["train"] != textcat["dev"]:
        kinds = {
            name: "a textcat corpus (docs with categories)" if is_cats else "an NER corpus (no doc has categories)"
            for name, is_cats in textcat.items()
        }
        raise ValueError(
            f"The train corpus is {kinds['train']}, but the dev corpus is {kinds['dev']}: "
            "both must be annotated for the same task."
        )
    if not textcat["train"] and not any(doc.ents for docs in corpora.values() for doc in docs):
        raise ValueError(
            "Neither the train nor the dev corpus has categories or entities: there are no classes to balance."
        )
    return textcat["train"]


def _top_up_classes(
    train: Sequence[Doc], dev: Sequence[Doc], order: List[int], max_share: Optional[float] = None
) -> List[int]:
    dev_counts = Counter(primary_labels([doc_labels(d, textcat=True) for d in dev]))
    train_primary = primary_labels([doc_labels(d, textcat=True) for d in train])
    target = median(dev_counts[c] for c in set(train_primary) | set(dev_counts))
    moved = []
    for label in sorted(set(train_primary)):
        candidates = [i for i in order if train_primary[i] == label]
        deficit = min(int(target) - dev_counts[label], _cap(len(candidates), max_share))
        moved += candidates[: max(deficit, 0)]
    return moved


def _top_up_ner(
    train: Sequence[Doc], dev: Sequence[Doc], order: List[int], max_share: Optional[float] = None
) -> List[int]:
    counts = class_counts(dev)
    train_counts = [class_counts([doc]) for doc in train]
    types = set(counts) | {t for c in train_counts for t in c}
    target = median(counts[t] for t in types)
    # The cap counts sentences carrying a type, moved for it or for another type.
    cap = {t: _cap(sum(1 for c in train_counts if c[t]), max_share) for t in types}
    moved_with = Counter()
    moved: List[int] = []
    taken = set()
    # Rarest types first (ties by name: set order changes with the string hash seed);
    # within a type, sentences with the fewest other entities first, so topping up
    # RNA does not inflate protein.
    for ent_type in sorted(types, key=lambda t: (counts[t], t)):
        candidates = sorted(
            (i for i in order if train_counts[i][ent_type] and i not in taken),
            key=lambda i: sum(train_counts[i].values()) - train_counts[i][ent_type],
        )
        for i in candidates:
            if counts[ent_type] >= target or moved_with[ent_type] >= cap[ent_type]:
                break
            if any(moved_with[t] >= cap[t] for t in train_counts[i]):
                continue  # would take more than its share of another type
            moved.append(i)
            taken.add(i)
            counts.update(train_counts[i])
            moved_with.update(set(train_counts[i]))
    return moved
