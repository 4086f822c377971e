"""`ents_macro_f`, the mean of the per-type F scores (seqeval-style macro-F,
the paper's NER metric), which spaCy's scorer does not report. The hamr.v1
callback adds it to the ner component's scores at training time by wrapping
the instance's scorer, so it can drive model selection through
[training.score_weights] while the saved config keeps spaCy's own scorer and
loads without this package.
"""

from typing import Callable, Dict, Iterable, Optional

from spacy.training import Example

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
