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


def main(source: str, assets_dir: str, project_file: str) -> None:
    if not source:
        sys.exit("Set vars.local_datasets (or HAMR_DATASETS for ../run.sh) to the folder of the six datasets.")
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
    main(*sys.argv[1:4])
