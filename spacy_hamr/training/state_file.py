"""What HAMR learned about each training example, saved for the user.

The batcher's `state_path` setting writes this file at the end of every epoch
(`numpy.savez_compressed`). spaCy shuffles the corpus before the batcher first
sees it, so rows follow no file order: each row carries a fingerprint of its
example (text and gold annotation), and `corpus_positions` finds each row's
position in the training corpus. `spacy hamr hard-examples` reads it.

Arrays (N rows, one per training example):
  fingerprint  uint64   the example's text and gold annotation, hashed
  hardness     float64  the sampling hardness (sums to 1)
  last_loss    float64  the latest known loss (NaN: never seen)
  last_weight  float64  the loss weight of its latest visit
  visits       int64    how often it was drawn into a real update
  epoch_losses float32  (epochs, N) its mean loss per epoch (NaN: not drawn)
and `epochs` (int), `resampled` (bool: the batcher resampled; False: spaCy's
shuffled epochs, every example once per epoch). Text classification adds the model's predictions at the visits:
  epoch_confidence float32  (epochs, N) mean probability of the gold label per epoch
  epoch_margin     float32  (epochs, N) mean margin of the gold label over the likeliest other
  score_mean       float32  (N, labels) mean predicted probabilities over all visits
  score_labels     str      (labels,) the columns of score_mean
"""

import hashlib
import os
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Union

import numpy
from spacy.tokens import Doc

from .shared_state import HamrState


def fingerprint(doc: Doc) -> int:
    """A 64-bit hash of a Doc's text and gold annotation (categories, entities)."""
    cats = ";".join(f"{label}={score:g}" for label, score in sorted(doc.cats.items()))
    ents = ";".join(f"{ent.start}:{ent.end}:{ent.label_}" for ent in doc.ents)
    digest = hashlib.blake2b(f"{doc.text}\x00{cats}\x00{ents}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def write_state(path: Path, state: HamrState, resampled: bool = True) -> None:
    """Write the state file; atomically, so that an interrupted run keeps the last epoch's."""
    epochs = numpy.asarray(state.epoch_losses, dtype="float32").reshape(-1, len(state))
    arrays = {
        "fingerprint": numpy.array([fingerprint(eg.reference) for eg in state.examples], dtype="uint64"),
        "hardness": state.hardness,
        "last_loss": state.last_loss,
        "last_weight": state.last_weight,
        "visits": state.visits,
        "epoch_losses": epochs,
        "epochs": numpy.int64(len(epochs)),
        "resampled": numpy.bool_(resampled),
    }
    if state.epoch_confidence:
        arrays["epoch_confidence"] = numpy.asarray(state.epoch_confidence, dtype="float32")
        arrays["epoch_margin"] = numpy.asarray(state.epoch_margin, dtype="float32")
    if state.score_sum is not None:
        with numpy.errstate(invalid="ignore", divide="ignore"):
            arrays["score_mean"] = (state.score_sum / state.scored_visits[:, None]).astype("float32")
        arrays["score_labels"] = numpy.array(state.score_labels, dtype=str)
    partial = Path(f"{path}.partial")
    with partial.open("wb") as file_:
        numpy.savez_compressed(file_, **arrays)
    os.replace(partial, path)


WRITTEN_BY = "it is written by the hamr.v1 batcher's state_path setting"


def read_state(path: Union[str, Path]) -> Dict[str, numpy.ndarray]:
    try:
        data = numpy.load(path)  # allow_pickle stays off: a state file holds plain arrays
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise ValueError(
            f"{path} is not a HAMR state file ({WRITTEN_BY}): it is not an .npz archive of arrays."
        ) from None
    if not isinstance(data, numpy.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not a HAMR state file ({WRITTEN_BY}): it holds one array, not an archive.")
    with data:
        missing = {"fingerprint", "hardness", "last_loss", "last_weight", "visits", "epoch_losses"} - set(data)
        if missing:
            raise ValueError(f"{path} is not a HAMR state file (no {', '.join(sorted(missing))}): {WRITTEN_BY}.")
        return {key: data[key] for key in data}


# The arrays with one entry per example: rows (axis 0), or one row per epoch (axis 1).
EXAMPLE_ARRAYS = ("fingerprint", "hardness", "last_loss", "last_weight", "visits", "score_mean")
EPOCH_ARRAYS = ("epoch_losses", "epoch_confidence", "epoch_margin")


def in_corpus_order(state: Dict[str, numpy.ndarray], positions: numpy.ndarray, n_docs: int) -> Dict[str, numpy.ndarray]:
    """The state with every per-example array in corpus order; positions: each
    row's position in the corpus (`corpus_positions`)."""
    row_of = numpy.full(n_docs, -1, dtype="int64")
    row_of[positions] = numpy.arange(len(positions))
    if (row_of < 0).any():
        raise ValueError(
            f"The state file covers {len(positions)} examples but the corpus has {n_docs}: "
            "it was written for another training corpus."
        )
    ordered = dict(state)
    for key in EXAMPLE_ARRAYS:
        if key in state:
            ordered[key] = state[key][row_of]
    for key in EPOCH_ARRAYS:
        if key in state:
            ordered[key] = state[key][:, row_of]
    return ordered


def corpus_positions(fingerprints: numpy.ndarray, docs: Iterable[Doc], corpus_name: str) -> numpy.ndarray:
    """Each state row's position in the corpus (identical examples pair up in order)."""
    where: Dict[int, List[int]] = defaultdict(list)
    for position, doc in enumerate(docs):
        where[fingerprint(doc)].append(position)
    positions = numpy.empty(len(fingerprints), dtype="int64")
    for row, key in enumerate(fingerprints.tolist()):
        if not where.get(key):
            raise ValueError(
                f"The state file has {len(fingerprints)} examples, and at least one of them "
                f"(row {row}) is not in {corpus_name}: it was written for another training corpus."
            )
        positions[row] = where[key].pop(0)
    return positions
