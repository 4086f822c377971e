"""Convert the HAMR paper's dataset files to spaCy's binary `.spacy` format.

A dataset folder holds train.json, and dev.json and test.json where there are
such splits. Classification records are {"text", "label", "label_text"} (label:
the class id); the categories are the `label_text` values of every split in the
folder, so each split gets the same label set. NER records are {"tokens",
"ner_tags"} with BIO tags; tokens are kept as given (joined by spaces). The
first record of train.json decides the task. A file is a JSON array, or JSON
lines. Every record is checked before anything is written.
"""

from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional

import spacy
import srsly
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..util import progress

SPLITS = ("train", "dev", "test")
# The fields a record needs, per task.
FIELDS = {"text classification": ("text", "label", "label_text"), "NER": ("tokens", "ner_tags")}


def is_json_lines(path: Path) -> bool:
    """A split file is a JSON array when it starts with "[", else JSON lines."""
    with Path(path).open(encoding="utf8") as file_:
        return file_.read(1) != "["


def read_records(path: Path) -> List[Dict]:
    """Records of one split file (a JSON array, or JSON lines)."""
    return list(srsly.read_jsonl(path) if is_json_lines(path) else srsly.read_json(path))


def is_ner(records: List[Dict]) -> bool:
    return bool(records) and isinstance(records[0], dict) and "tokens" in records[0]


def check_records(records: List[Dict], path: Path, ner: bool) -> None:
    """Refuse a record that lacks a field of the task (or, NER, has as many tags
    as tokens), naming the file, the record and the fields it has."""
    task = "NER" if ner else "text classification"
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            problem = f"it is {type(rec).__name__}, not an object with fields"
        elif any(field not in rec for field in FIELDS[task]):
            missing = [field for field in FIELDS[task] if field not in rec]
            problem = f"it has no {', '.join(missing)} (its fields: {', '.join(sorted(rec)) or 'none'})"
        elif ner and len(rec["tokens"]) != len(rec["ner_tags"]):
            problem = f"it has {len(rec['tokens'])} tokens but {len(rec['ner_tags'])} ner_tags"
        else:
            continue
        needs = "; ".join(f"{name} records need {', '.join(fields)}" for name, fields in FIELDS.items())
        raise ValueError(
            f"{_record_place(path, i)}: {problem}. This dataset is {task} (the first record of "
            f"train.json decides): {needs}."
        )


def _record_place(path: Path, i: int) -> str:
    """Record i of a split file, with its line in a JSON lines file."""
    if not is_json_lines(path):
        return f"{path}, record {i}"
    with Path(path).open(encoding="utf8") as file_:
        line = [n for n, text in enumerate(file_, 1) if text.strip()][i]
    return f"{path}, record {i} (line {line})"


def dataset_labels(splits: Iterable[List[Dict]]) -> List[str]:
    """All classification labels of a dataset's splits (their records), in label-id order."""
    by_id = {}
    for records in splits:
        for rec in records:
            by_id.setdefault(rec["label"], rec["label_text"])
    return [by_id[i] for i in sorted(by_id)]


def cls_docs(records: List[Dict], labels: List[str], lang: str = "en") -> Iterator[Doc]:
    tokenizer = spacy.blank(lang).tokenizer
    for i, rec in enumerate(records):
        if rec.get("label_text") not in labels:
            raise ValueError(f"Record {i} has label_text {rec.get('label_text')!r}, not one of {labels}.")
        doc = tokenizer(rec["text"])
        doc.cats = {label: float(label == rec["label_text"]) for label in labels}
        yield doc


def ner_docs(records: List[Dict], vocab: Vocab) -> Iterator[Doc]:
    for rec in records:
        tokens, tags = rec["tokens"], rec["ner_tags"]
        if not tokens:
            continue  # an empty sentence carries no annotation (none in the paper's files)
        yield Doc(vocab, words=tokens, spaces=[True] * (len(tokens) - 1) + [False], ents=tags)


def convert_split(records: List[Dict], name: str, output: Path, labels: Optional[List[str]]) -> int:
    """Write one split's records as .spacy (NER where `labels` is None); return
    the number of docs written."""
    if labels is None:
        docs = ner_docs(records, spacy.blank("en").vocab)
    else:
        docs = cls_docs(records, labels)
    doc_bin = DocBin(store_user_data=False)
    for doc in progress(docs, f"Converting {name}", len(records)):
        doc_bin.add(doc)
    output.parent.mkdir(parents=True, exist_ok=True)
    doc_bin.to_disk(output)
    return len(doc_bin)


def convert_dataset(folder: Path, output_dir: Path, limit: int = 0) -> Dict[str, int]:
    """Convert the splits of a dataset folder that exist (train.json, dev.json,
    test.json; train.json is required) to output_dir/{split}.spacy, the first
    `limit` records of each (0: all); return the docs written per split."""
    folder = Path(folder)
    paths = {split: folder / f"{split}.json" for split in SPLITS if (folder / f"{split}.json").exists()}
    if SPLITS[0] not in paths:
        raise FileNotFoundError(f"{folder} has no {SPLITS[0]}.json.")
    records = {split: read_records(path) for split, path in paths.items()}
    ner = is_ner(records[SPLITS[0]])
    for split, path in paths.items():
        check_records(records[split], path, ner)
    labels = None if ner else dataset_labels(records.values())
    return {
        split: convert_split(records[split][: limit or None], path.name, Path(output_dir) / f"{split}.spacy", labels)
        for split, path in paths.items()
    }
