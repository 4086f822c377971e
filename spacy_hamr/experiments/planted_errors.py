"""Label errors planted in place, to measure a label-error finder on a corpus
whose errors are known: no correct twin of an error stays in the corpus.

Text classification: a share of the examples moves to another class, at
random ("uniform") or every example of class c to one class pi(c) ("pair",
pi a cycle through the classes in a seeded order). NER: a share of the gold
entities is changed, in equal parts: its type swapped, the entity deleted, or
its boundary shifted by one token.
"""

from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc, Span

NER_KINDS = ("type_swap", "deletion", "boundary_shift")


def flip_labels(labels: numpy.ndarray, n_classes: int, noise: str, rate: float, seed: int) -> numpy.ndarray:
    """The noisy labels: round(rate N) examples, chosen uniformly, moved to another class."""
    if noise not in ("uniform", "pair"):
        raise ValueError(f"noise must be 'uniform' or 'pair', got {noise!r}")
    rng = numpy.random.default_rng(seed)
    noisy = labels.copy()
    chosen = rng.choice(len(labels), size=int(round(rate * len(labels))), replace=False)
    if noise == "uniform":
        noisy[chosen] = (labels[chosen] + rng.integers(1, n_classes, size=len(chosen))) % n_classes
    else:
        order = rng.permutation(n_classes)
        successor = numpy.empty(n_classes, dtype=int)
        successor[order] = numpy.roll(order, -1)
        noisy[chosen] = successor[labels[chosen]]
    return noisy


class PlantedSpan(NamedTuple):
    doc: int
    kind: str
    original: Tuple[int, int, str]  # token start, end, label before
    planted: Optional[Tuple[int, int, str]]  # after (None: deleted)


def plant_ner_errors(docs: Sequence[Doc], rate: float, seed: int) -> Tuple[List[Doc], List[PlantedSpan]]:
    """Copies of `docs` with round(rate * entities) entities changed in place."""
    rng = numpy.random.default_rng(seed)
    labels = sorted({ent.label_ for doc in docs for ent in doc.ents})
    if len(labels) < 2:
        raise ValueError("Planting type swaps needs at least two entity types.")
    entities = [(i, k) for i, doc in enumerate(docs) for k in range(len(doc.ents))]
    chosen = rng.choice(len(entities), size=int(round(rate * len(entities))), replace=False)
    changes: Dict[int, Dict[int, str]] = {}
    for n, pick in enumerate(sorted(chosen.tolist(), key=lambda p: rng.random())):
        i, k = entities[pick]
        changes.setdefault(i, {})[k] = NER_KINDS[n % len(NER_KINDS)]
    out, planted = [], []
    for i, doc in enumerate(docs):
        doc = doc.copy()
        if i in changes:
            ents, record = _change(doc, changes[i], labels, rng)
            doc.set_ents(ents, default="outside")
            planted.extend(PlantedSpan(i, kind, before, after) for kind, before, after in record)
        out.append(doc)
    return out, planted


def _change(doc: Doc, changes: Dict[int, str], labels: List[str], rng) -> Tuple[List[Span], List]:
    ents = list(doc.ents)
    taken = {t for e in ents for t in range(e.start, e.end)}
    new, record = [], []
    for k, ent in enumerate(ents):
        kind = changes.get(k)
        before = (ent.start, ent.end, ent.label_)
        shifted = _shifted(ent, len(doc), taken) if kind == "boundary_shift" else None
        if kind == "boundary_shift" and shifted is None:
            kind = "type_swap"  # a one-token entity hemmed in by others cannot shift
        if kind == "type_swap":
            label = labels[(labels.index(ent.label_) + int(rng.integers(1, len(labels)))) % len(labels)]
            new.append(Span(doc, ent.start, ent.end, label=label))
            record.append((kind, before, (ent.start, ent.end, label)))
        elif kind == "deletion":
            record.append((kind, before, None))
        elif kind == "boundary_shift":
            start, end = shifted
            new.append(Span(doc, start, end, label=ent.label_))
            record.append((kind, before, (start, end, ent.label_)))
        else:
            new.append(ent)
    return new, record


def _shifted(ent: Span, n_tokens: int, taken) -> Optional[Tuple[int, int]]:
    """One token more on the right (or left) where free, else one fewer (None: neither)."""
    if ent.end < n_tokens and ent.end not in taken:
        return ent.start, ent.end + 1
    if ent.start > 0 and ent.start - 1 not in taken:
        return ent.start - 1, ent.end
    if len(ent) > 1:
        return ent.start, ent.end - 1
    return None
