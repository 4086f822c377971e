"""`python -m spacy_hamr ...`: the helpers the project workflow needs."""
from pathlib import Path

import typer
from wasabi import msg

from .convert import convert_dataset

app = typer.Typer(help="spacy-hamr helpers", no_args_is_help=True)


@app.command("convert")
def convert_cli(
    dataset: Path = typer.Argument(..., help="Folder with train.json, dev.json, test.json"),
    output_dir: Path = typer.Argument(..., help="Where to write train/dev/test.spacy"),
    limit: int = typer.Option(0, help="Keep only the first N records of each split (0: all)"),
) -> None:
    """Convert one of the paper's datasets to .spacy files."""
    counts = convert_dataset(dataset, output_dir, limit)
    msg.good(f"Converted {dataset.name}: " + ", ".join(f"{s} {n}" for s, n in counts.items()))


@app.command("version", hidden=True)
def version_cli() -> None:
    from . import __version__

    print(__version__)
