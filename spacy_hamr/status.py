"""HAMR's status lines during `spacy train`: printed through wasabi, as spaCy's
own messages are, but never wrapped and flushed at once, one line per event
(the epoch summary sits between the rows of spaCy's training table, and logs
are read with grep)."""
import sys

from wasabi import Printer

_PRINTER = Printer(pretty=False)


def status(line: str) -> None:
    _PRINTER.text(line)
    sys.stdout.flush()
