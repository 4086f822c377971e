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


# The experiment engine's options, shared by the commands that train many runs.
JOBS = typer.Option(
    0,
    "--jobs",
    "-j",
    help="Runs trained at once on this machine (0: one per CPU core; on a GPU, as many as --gpus-per-run lets share it)",
)
THREADS = typer.Option(0, "--threads", help="Threads of each run (0: the CPU cores shared between the jobs; on Ray, 1)")
GPUS_PER_RUN = typer.Option(
    1.0, "--gpus-per-run", help="Share of a GPU each run takes with --gpu-id, e.g. 0.25 for four runs on one GPU"
)
RAY_ADDRESS = typer.Option(
    None,
    "--ray-address",
    help="Train on this Ray cluster ('auto': the one `ray start` made here; default: RAY_ADDRESS); needs spacy-hamr[ray]",
)
