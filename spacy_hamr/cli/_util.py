"""The `spacy hamr` command group, added to spaCy's own CLI.

spaCy imports the `spacy_cli` entry points before it runs a command, so
importing this package is what makes `python -m spacy hamr ...` exist.
"""

import os
from pathlib import Path

import typer
from spacy.cli import app as spacy_app

HELP = """spacy-hamr: class-balanced meta sets, dataset conversion, the
comparison's configs, logit adjustment, and finding label errors."""

hamr_cli = typer.Typer(name="hamr", help=HELP, no_args_is_help=True, rich_markup_mode=None)
spacy_app.add_typer(hamr_cli)


def output_folder(path: Path) -> Path:
    """Create a command's output folder before its work: one that cannot be
    written stops it with a message naming the folder, not with a traceback
    after the work."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"The output folder {path} cannot be created ({err.strerror or err}).") from None
    if not os.access(path, os.W_OK):
        raise ValueError(f"The output folder {path} is not writable.")
    return path
