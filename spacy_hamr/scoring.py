"""Scores of a class-imbalanced evaluation: NER macro-F, per-class F1 and the
smallest class.

`ents_macro_f` is the mean of the per-type F scores (seqeval-style macro-F,
the paper's NER metric), which spaCy's scorer does not report. The hamr.v1
callback adds it to the ner component's scores at training time by wrapping
the instance's scorer, so it can drive model selection through
[training.score_weights] while the saved config keeps spaCy's own scorer and
loads without this package.

The other helpers read what `spacy evaluate --output` writes and the gold
annotation of a `.spacy` corpus, for reports and benchmarks.
"""
from collections import Counter
from pathlib import Path
from statistics import mean
from typing import Callable, Dict, Iterable, Optional, Union

from spacy.tokens import Doc
from spacy.training import Example

from .labels import positive_categories

MACRO_KEY = "ents_macro_f"


def ner_macro_f(scores: Dict) -> Optional[float]:
    per_type = scores.get("ents_per_type") or {}
    if not per_type:
        return None
    return sum(s["f"] for s in per_type.values()) / len(per_type)


def with_macro_f(scorer: Callable[..., Dict]) -> Callable[..., Dict]:
    def score(examples: Iterable[Example], **kwargs) -> Dict:
        scores = scorer(examples, **kwargs)
        scores[MACRO_KEY] = ner_macro_f(scores)
        return scores

    return score


def per_class_f1(metrics: Dict) -> Dict[str, float]:
    """Per-class test F1 in points, from textcat or NER metrics."""
    per_type = metrics.get("cats_f_per_type") or metrics.get("ents_per_type") or {}
    return {label: 100 * s["f"] for label, s in per_type.items()}


def macro_f1(metrics: Dict) -> float:
    """Macro-F1 in points: spaCy's `cats_macro_f`, or the mean per-type F of NER."""
    if metrics.get("cats_f_per_type") and "cats_macro_f" in metrics:
        return 100 * metrics["cats_macro_f"]
    return mean(per_class_f1(metrics).values())


def class_counts(docs: Iterable[Doc]) -> Counter:
    """Gold class mentions: positive categories (labels.POSITIVE) of text
    classification docs, entity mentions per type of NER docs."""
    counts: Counter = Counter()
    for doc in docs:
        if doc.cats:
            counts.update(positive_categories(doc.cats))
        else:
            counts.update(ent.label_ for ent in doc.ents)
    return counts


def corpus_class_counts(path: Union[str, Path]) -> Counter:
    """`class_counts` of a `.spacy` corpus."""
    import spacy
    from spacy.tokens import DocBin

    return class_counts(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


def smallest_class(counts: Counter) -> str:
    """The class with the fewest gold mentions (ties: the first in label order)."""
    return min(sorted(counts), key=counts.get)
