"""`python -m spacy_hamr ...`: an alias of `python -m spacy hamr ...`."""

from .cli import hamr_cli

hamr_cli(prog_name="python -m spacy_hamr")
