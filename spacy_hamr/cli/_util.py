"""The `spacy hamr` command group, added to spaCy's own CLI.

spaCy imports the `spacy_cli` entry points before it runs a command, so
importing this package is what makes `python -m spacy hamr ...` exist.
"""
import typer
from spacy.cli import app as spacy_app

HELP = """spacy-hamr: class-balanced meta sets, dataset conversion, the
comparison's configs, logit adjustment, and finding label errors."""

hamr_cli = typer.Typer(name="hamr", help=HELP, no_args_is_help=True, rich_markup_mode=None)
spacy_app.add_typer(hamr_cli)
