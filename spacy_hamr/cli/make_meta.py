"""`spacy hamr make-meta`: the paper's class-balanced meta split, as files."""

from pathlib import Path
from typing import Tuple

from typer import Argument as Arg, Option as Opt
from wasabi import msg

from ._util import hamr_cli


@hamr_cli.command("make-meta")
def make_meta_cli(
    # fmt: off
    train_path: Path = Arg(..., help="Training corpus (.spacy)", exists=True, dir_okay=False),
    dev_path: Path = Arg(..., help="Dev corpus (.spacy)", exists=True, dir_okay=False),
    output_dir: Path = Arg(..., help="Where to write train.spacy (what is left of the training corpus) and meta.spacy"),
    seed: int = Opt(0, "--seed", "-s", help="Seed of the choice of moved training examples"),
    # fmt: on
):
    """Build a class-balanced meta set: the dev corpus, topped up with training
    examples until each class reaches the median per-class count of dev.

    The moved examples leave the training corpus, so meta and training data
    stay disjoint. Point the hamr.v1 callback's `meta_path` at meta.spacy and
    `paths.train` at the new train.spacy.
    """
    try:
        moved, n_meta, n_train = make_meta(train_path, dev_path, output_dir, seed)
    except ValueError as err:
        msg.fail(f"{err} (train: {train_path}, dev: {dev_path})", exits=1)
    msg.good(f"Moved {moved} training docs: meta {n_meta}, train {n_train} (in {output_dir})")


def make_meta(train_path: Path, dev_path: Path, output_dir: Path, seed: int = 0) -> Tuple[int, int, int]:
    """Write output_dir/meta.spacy and output_dir/train.spacy; return the
    number of moved docs and the sizes of the two corpora."""
    import spacy
    from spacy.tokens import DocBin

    from ..corpus import read_docs
    from ..meta_weighting.meta_set import make_balanced_meta

    vocab = spacy.blank("en").vocab
    train_docs = read_docs(train_path, vocab)
    dev_docs = read_docs(dev_path, vocab)
    rest, meta = make_balanced_meta(train_docs, dev_docs, seed)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    DocBin(docs=rest).to_disk(output_dir / "train.spacy")
    DocBin(docs=meta).to_disk(output_dir / "meta.spacy")
    return len(train_docs) - len(rest), len(meta), len(rest)
