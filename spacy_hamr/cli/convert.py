"""`spacy hamr convert`: the paper's dataset files to `.spacy` corpora."""

from pathlib import Path
from typing import Dict, List

from typer import Argument as Arg, Option as Opt
from wasabi import msg

from ..experiments.convert import SPLITS, convert_dataset
from ._util import hamr_cli


@hamr_cli.command("convert")
def convert_cli(
    # fmt: off
    input_dir: Path = Arg(
        ...,
        help="A dataset folder (train.json, and dev.json and test.json if there are such splits), or a folder of such folders",
        exists=True,
        file_okay=False,
    ),
    output_dir: Path = Arg(
        ..., help="Where to write {train,dev,test}.spacy (one subfolder per dataset for a folder of datasets)"
    ),
    datasets: str = Opt(
        "", "--datasets", "-d", help="From a folder of datasets, only these (space- or comma-separated names)"
    ),
    limit: int = Opt(0, "--limit", "-l", help="Keep only the first N records of each split (0: all)", min=0),
    # fmt: on
):
    """Convert the HAMR paper's dataset files, or your own in their format, to
    spaCy's binary format.

    Text classification records ({"text", "label", "label_text"}) give one
    category per `label_text`; NER records ({"tokens", "ner_tags"}) give
    entities from their BIO tags, with the tokens as given.
    """
    try:
        converted = convert(input_dir, output_dir, datasets.replace(",", " ").split(), limit)
    except (FileNotFoundError, ValueError) as err:
        msg.fail(str(err), exits=1)
    for folder, counts in converted.items():
        msg.good(f"Converted {folder.name}: " + ", ".join(f"{split} {n}" for split, n in counts.items()))
        for split in SPLITS:
            if split not in counts:
                msg.info(f"  skipped {split}: {folder / f'{split}.json'} does not exist")


def convert(input_dir: Path, output_dir: Path, datasets: List[str], limit: int = 0) -> Dict[Path, Dict[str, int]]:
    """Convert one dataset folder, or the named (default: all) datasets of a
    folder of dataset folders; return the docs written per dataset folder and split."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if (input_dir / f"{SPLITS[0]}.json").exists():
        if datasets:
            raise ValueError(f"{input_dir} is a single dataset: --datasets only applies to a folder of datasets.")
        return {input_dir: convert_dataset(input_dir, output_dir, limit)}
    available = sorted(p.name for p in input_dir.iterdir() if (p / f"{SPLITS[0]}.json").exists())
    names = datasets or available
    missing = [name for name in names if name not in available]
    if missing or not names:
        raise FileNotFoundError(
            f"{input_dir} has no dataset folder {', '.join(missing) or '(none found)'}: it holds "
            f"{', '.join(available) or 'no folder with train.json'}."
        )
    return {input_dir / name: convert_dataset(input_dir / name, output_dir / name, limit) for name in names}
