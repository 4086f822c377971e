"""Convert several of the paper's datasets (assets/<name>/) to corpus/<name>/{train,dev,test}.spacy."""
import argparse
from pathlib import Path

from wasabi import msg

from spacy_hamr.convert import convert_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--assets", type=Path, default=Path("assets"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--limit", type=int, default=0, help="keep the first N records of each split")
    args = parser.parse_args()
    for name in args.datasets:
        counts = convert_dataset(args.assets / name, args.corpus / name, args.limit)
        msg.good(f"{name}: " + ", ".join(f"{split} {n}" for split, n in counts.items()))


if __name__ == "__main__":
    main()
