"""Convert the HAMR paper's dataset files to spaCy's binary `.spacy` format.

Classification files are one JSON array of {"text", "label", "label_text"};
the categories are the `label_text` values of every split in the folder, so
each split gets the same label set. NER files are JSON lines of {"tokens",
"ner_tags"} with BIO tags; tokens are kept as given (joined by spaces).
"""
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import spacy
import srsly
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from .progress import progress

SPLITS = ("train", "dev", "test")


def read_records(path: Path) -> List[Dict]:
    """Records of one split file (a JSON array, or JSON lines)."""
    with Path(path).open(encoding="utf8") as file_:
        first = file_.read(1)
    if first == "[":
        return list(srsly.read_json(path))
    return list(srsly.read_jsonl(path))


def is_ner(records: List[Dict]) -> bool:
    return bool(records) and "tokens" in records[0]


def dataset_labels(folder: Path) -> List[str]:
    """All classification labels of a dataset folder, in label-id order."""
    by_id = {}
    for split in SPLITS:
        path = Path(folder) / f"{split}.json"
        if path.exists():
            for rec in read_records(path):
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
    for i, rec in enumerate(records):
        tokens, tags = rec["tokens"], rec["ner_tags"]
        if len(tokens) != len(tags):
            raise ValueError(f"Record {i}: {len(tokens)} tokens but {len(tags)} ner_tags.")
        if not tokens:
            continue  # an empty sentence carries no annotation (none in the paper's files)
        yield Doc(vocab, words=tokens, spaces=[True] * (len(tokens) - 1) + [False], ents=tags)


def convert_split(path: Path, output: Path, labels: Optional[List[str]], limit: int = 0) -> int:
    """Write one split as .spacy; return the number of docs written."""
    records = read_records(path)
    if limit:
        records = records[:limit]
    if is_ner(records):
        docs = ner_docs(records, spacy.blank("en").vocab)
    else:
        docs = cls_docs(records, labels or [])
    doc_bin = DocBin(store_user_data=False)
    for doc in progress(docs, f"Converting {path.name}", len(records)):
        doc_bin.add(doc)
    output.parent.mkdir(parents=True, exist_ok=True)
    doc_bin.to_disk(output)
    return len(doc_bin)


def convert_dataset(folder: Path, output_dir: Path, limit: int = 0) -> Dict[str, int]:
    """Convert train/dev/test of a dataset folder to output_dir/{split}.spacy."""
    folder = Path(folder)
    missing = [s for s in SPLITS if not (folder / f"{s}.json").exists()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(s + '.json' for s in missing)}.")
    first = read_records(folder / "train.json")
    labels = None if is_ner(first) else dataset_labels(folder)
    return {
        split: convert_split(folder / f"{split}.json", Path(output_dir) / f"{split}.spacy", labels, limit)
        for split in SPLITS
    }
