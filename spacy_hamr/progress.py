"""Progress of long preparation steps (conversion, embedding), log-friendly."""
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], what: str, total_units: int, units_per_item: int = 1) -> Iterator[T]:
    """Yield `items`, reporting `what` in units (texts, docs) to stderr at most every 5 s."""
    with tqdm(total=total_units, desc=f"[hamr] {what}", unit="doc", mininterval=5.0) as bar:
        for item in items:
            yield item
            bar.update(min(units_per_item, total_units - bar.n))
