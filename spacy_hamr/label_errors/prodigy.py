"""Suspected label errors as Prodigy tasks, to fix by hand and retrain.

Text classification tasks open in `prodigy textcat.manual` with the labels
as options and the current gold label pre-selected ("accept"); NER tasks open
in `prodigy ner.manual` with the gold spans, token-aligned. Each task's
`meta` carries the score and what the finder suspects, which Prodigy shows
under the task. `_input_hash`/`_task_hash` are left to Prodigy.
"""
from typing import Dict, List, Optional, Sequence

from spacy.tokens import Doc


def textcat_task(doc: Doc, labels: Sequence[str], gold: Sequence[str], meta: Dict) -> Dict:
    return {"text": doc.text, "options": [{"id": label, "text": label} for label in labels],
            "accept": list(gold), "meta": meta}


def ner_task(doc: Doc, meta: Dict) -> Dict:
    return {"text": doc.text, "tokens": tokens_of(doc),
            "spans": [{"start": ent.start_char, "end": ent.end_char, "token_start": ent.start,
                       "token_end": ent.end - 1, "label": ent.label_} for ent in doc.ents],
            "meta": meta}


def tokens_of(doc: Doc) -> List[Dict]:
    return [{"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i, "ws": bool(t.whitespace_)}
            for t in doc]


def review_command(textcat: bool, path: str, labels: Sequence[str], exclusive: Optional[bool] = True) -> str:
    """The Prodigy command that opens `path`."""
    label_list = ",".join(labels)
    if textcat:
        return (f"prodigy textcat.manual fixed_labels {path} --label {label_list}"
                + (" --exclusive" if exclusive else ""))
    return f"prodigy ner.manual fixed_labels blank:en {path} --label {label_list}"
