"""Helpers every part of spacy-hamr uses: status lines, progress bars and the
check that numeric settings are numbers."""

import sys
from numbers import Real
from typing import Dict, Iterable, Iterator, TypeVar

from tqdm import tqdm
from wasabi import Printer

T = TypeVar("T")

# HAMR's status lines during `spacy train`: printed through wasabi, as spaCy's
# own messages are, but never wrapped and flushed at once, one line per event
# (the epoch summary sits between the rows of spaCy's training table, and logs
# are read with grep).
_PRINTER = Printer(pretty=False)


def status(line: str) -> None:
    _PRINTER.text(line)
    sys.stdout.flush()


def progress(items: Iterable[T], what: str, total_units: int, units_per_item: int = 1) -> Iterator[T]:
    """Yield `items`, reporting `what` in units (texts, docs) to stderr at most every 5 s:
    progress of long preparation steps (conversion, embedding), log-friendly."""
    with tqdm(total=total_units, desc=f"[hamr] {what}", unit="doc", mininterval=5.0) as bar:
        for item in items:
            yield item
            bar.update(min(units_per_item, total_units - bar.n))


def check_numbers(where: str, settings: Dict[str, object]) -> None:
    """Refuse numeric settings that are not numbers; None (a default) passes.

    confection accepts a quoted number ("0.5", e.g. from an override
    `--training.batcher.alpha '"0.5"'`) for a float or int setting but passes
    the string on, where the range checks would fail with a TypeError.

    where (str): The config block and function, e.g. "[training.batcher] hamr.v1".
    settings (Dict[str, object]): Setting name -> value as given.
    """
    problems = [
        f"{name} must be a number, got {_describe(value)}"
        for name, value in settings.items()
        if value is not None and (isinstance(value, bool) or not isinstance(value, Real))
    ]
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{value!r} ({type(value).__name__})"
