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


@app.command("make-meta")
def make_meta_cli(
    train: Path = typer.Argument(..., help="Training corpus (.spacy)"),
    dev: Path = typer.Argument(..., help="Dev corpus (.spacy)"),
    output_dir: Path = typer.Argument(..., help="Writes train.spacy (what is left) and meta.spacy"),
    seed: int = typer.Option(0, help="Seed of the choice of moved examples"),
) -> None:
    """Build the paper's class-balanced meta split (dev topped up from train)."""
    import spacy
    from spacy.tokens import DocBin

    from .meta import make_balanced_meta

    vocab = spacy.blank("en").vocab
    train_docs = list(DocBin().from_disk(train).get_docs(vocab))
    dev_docs = list(DocBin().from_disk(dev).get_docs(vocab))
    rest, meta = make_balanced_meta(train_docs, dev_docs, seed)
    output_dir.mkdir(parents=True, exist_ok=True)
    DocBin(docs=rest).to_disk(output_dir / "train.spacy")
    DocBin(docs=meta).to_disk(output_dir / "meta.spacy")
    msg.good(f"Moved {len(train_docs) - len(rest)} training docs: meta {len(meta)}, train {len(rest)}")


@app.command("variant-config")
def variant_config_cli(
    base: Path = typer.Argument(..., help="A config, e.g. from `spacy init config`"),
    variant: str = typer.Argument(..., help="baseline, hamr, hamr_no_resample, hamr_no_meta, hamr_no_boost, oversample, inverse_freq, ..."),
    output: Path = typer.Argument(..., help="Where to write the variant's config"),
) -> None:
    """Write `base` with one run's [training.batcher] / [training.before_update]."""
    from thinc.api import Config

    from .variants import variant_config

    variant_config(Config().from_disk(base, interpolate=False), variant).to_disk(output)
    msg.good(f"Wrote {output} ({variant})")
