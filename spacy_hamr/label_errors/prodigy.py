"""Suspected label errors as Prodigy tasks, to fix by hand and retrain.

Text classification tasks open in `prodigy textcat.manual` with the labels
as options and the current gold label pre-selected ("accept"); NER tasks open
in `prodigy ner.manual` with the gold spans, token-aligned. Each task's
`meta` carries the score and what the finder suspects, which Prodigy shows
under the task. `_input_hash`/`_task_hash` are left to Prodigy.
"""

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import srsly
from spacy.tokens import Doc

from ..labels import is_textcat, positive_categories
from .report import Report


def textcat_task(doc: Doc, labels: Sequence[str], gold: Sequence[str], meta: Dict) -> Dict:
    return {
        "text": doc.text,
        "options": [{"id": label, "text": label} for label in labels],
        "accept": list(gold),
        "meta": meta,
    }


def ner_task(doc: Doc, meta: Dict) -> Dict:
    return {
        "text": doc.text,
        "tokens": tokens_of(doc),
        "spans": [
            {
                "start": ent.start_char,
                "end": ent.end_char,
                "token_start": ent.start,
                "token_end": ent.end - 1,
                "label": ent.label_,
            }
            for ent in doc.ents
        ],
        "meta": meta,
    }


def tokens_of(doc: Doc) -> List[Dict]:
    return [
        {"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i, "ws": bool(t.whitespace_)} for t in doc
    ]


def review_command(textcat: bool, path: str, labels: Sequence[str], exclusive: Optional[bool] = True) -> str:
    """The Prodigy command that opens `path`."""
    label_list = ",".join(labels)
    if textcat:
        return f"prodigy textcat.manual fixed_labels {path} --label {label_list}" + (
            " --exclusive" if exclusive else ""
        )
    return f"prodigy ner.manual fixed_labels blank:en {path} --label {label_list}"


def write_review(report: Report, docs: Sequence[Doc], path: Path) -> str:
    """Write the flagged examples as Prodigy tasks (below), the
    score in `meta`; return the Prodigy command that opens them."""
    textcat = is_textcat(docs)
    labels = sorted({label for doc in docs for label in (doc.cats if textcat else [e.label_ for e in doc.ents])})
    tasks = []
    for rank, item in enumerate(report.flagged):
        meta = {"rank": rank + 1, **item}
        doc = docs[item["index"]]
        tasks.append(textcat_task(doc, labels, positive_categories(doc.cats), meta) if textcat else ner_task(doc, meta))
    srsly.write_jsonl(path, tasks)
    return review_command(textcat, str(path), labels)
