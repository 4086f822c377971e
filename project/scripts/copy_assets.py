"""Copy the dataset files named in project.yml's assets from a local folder
(laid out as <dataset>/<split>.json), checking each MD5 checksum: the
offline stand-in for `spacy project assets`."""

import hashlib
import shutil
import sys
from pathlib import Path

import srsly


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def main(assets_dir: str, project_file: str, source: str = "") -> None:
    if not source:
        sys.exit(
            "No local dataset folder given: run `spacy project run copy-assets . --vars.local_datasets "
            "/path/to/datasets` (a folder of <dataset>/<split>.json), or `spacy project assets` to download."
        )
    if not Path(source).is_dir():
        sys.exit(f"vars.local_datasets is {source!r}, which is not a folder.")
    for asset in srsly.read_yaml(project_file)["assets"]:
        dest = Path(asset["dest"])
        rel = dest.relative_to(assets_dir)
        src = Path(source) / rel
        if not src.exists():
            sys.exit(f"Missing {src}: {source} must hold <dataset>/<split>.json for every asset.")
        if md5(src) != asset["checksum"]:
            sys.exit(f"Checksum mismatch for {src}: expected {asset['checksum']}, got {md5(src)}.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        print(f"copied {src} -> {dest}")


if __name__ == "__main__":
    # local_datasets comes last: an empty project var drops out of the command line.
    main(*sys.argv[1:4])
