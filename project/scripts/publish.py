"""Write the comparison's tables from results/summary.json into the repository's
README and docs/results.md, between their results-table markers, so that what
they show is what the last run of the `all` workflow measured.

    python scripts/publish.py            # from project/, after `report`
    python scripts/publish.py --check    # exit 1, naming the file, where one differs

The README gets the headline table (HAMR against its strongest control per
dataset); docs/results.md gets it with every run's scores and HAMR against each
control.
"""

import argparse
import sys
from pathlib import Path

import srsly
from report import comparison_table, detail_tables

START = "<!-- results table: written by project/scripts/publish.py from project/results/summary.json -->"
END = "<!-- end of results table -->"


def readme_block(summary: dict) -> str:
    return "\n".join(comparison_table(summary))


def results_doc_block(summary: dict) -> str:
    return "\n".join([*comparison_table(summary), "", *detail_tables(summary)])


def with_block(text: str, block: str, path: Path) -> str:
    """`text` with what lies between the markers replaced by `block`."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"{path} needs one line {START!r} and, after it, one line {END!r}")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{START}\n{block}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", type=Path, default=Path("results/summary.json"))
    parser.add_argument("--repository", type=Path, default=Path(".."), help="the repository root")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 where a file differs")
    args = parser.parse_args()
    summary = srsly.read_json(args.summary)
    stale = []
    for path, block in (
        (args.repository / "README.md", readme_block(summary)),
        (args.repository / "docs" / "results.md", results_doc_block(summary)),
    ):
        text = path.read_text(encoding="utf8")
        new = with_block(text, block, path)
        if new == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(new, encoding="utf8")
            print(f"[publish] {path}: results table written from {args.summary}")
    if stale:
        sys.exit(
            f"Not what {args.summary} says: {', '.join(map(str, stale))}. Run python scripts/publish.py in project/."
        )


if __name__ == "__main__":
    main()
