"""What the engine says while runs train: the time left, and a line at least
every minute naming each running run with its epoch and elapsed time."""

import time
from typing import Callable, Dict, Hashable, Optional, Tuple


class TimeLeft:
    """The wall time left, from what the finished runs took per unit of cost.

    A run's seconds per unit are those of its finished peers: the runs of the same
    group (task, arm), else those whose group starts alike (the same task), else any
    run at all (a CNN NER update costs several times a textcat one, so a textcat run's
    rate alone would underestimate the NER runs still to come)."""

    def __init__(self, work: Dict[Hashable, Tuple[Tuple[str, ...], float]], slots: int):
        self.work, self.slots = work, slots  # key: (group, cost)
        self.started, self.finished = {}, {}

    def start(self, key) -> None:
        self.started[key] = time.perf_counter()

    def finish(self, key) -> float:
        """Record a run's end; its seconds."""
        self.finished[key] = time.perf_counter() - self.started[key]
        return self.finished[key]

    def elapsed(self, key) -> float:
        return time.perf_counter() - self.started[key]

    def rate(self, group: Tuple[str, ...]) -> float:
        done = [(self.work[key], seconds) for key, seconds in self.finished.items()]
        for width in range(len(group), -1, -1):
            peers = [(work, seconds) for work, seconds in done if work[0][:width] == group[:width]]
            if peers:
                return sum(seconds for _, seconds in peers) / max(sum(work[1] for work, _ in peers), 1e-9)
        raise ValueError("no run has finished yet")

    def seconds(self) -> Optional[float]:
        """Seconds until every run has finished (the work left, shared between the slots); None before any ended."""
        if not self.finished:
            return None
        now, left = time.perf_counter(), 0.0
        for key, (group, cost) in self.work.items():
            if key not in self.finished:
                expected = self.rate(group) * cost
                left += max(0.0, expected - (now - self.started[key])) if key in self.started else expected
        return left / self.slots

    def summary(self) -> str:
        left = self.seconds()
        estimate = "" if left is None else f", about {left / 60:.0f} min left"
        return f"{len(self.finished)} of {len(self.work)} runs done{estimate}"


def running_line(names_epochs_elapsed, clock: TimeLeft) -> str:
    """'training: A (epoch 3, 4.1 min), B (no evaluation yet, 0.5 min); 2 of 9 runs done, about 12 min left'."""
    parts = [
        f"{name} ({'no evaluation yet' if epoch is None else f'epoch {epoch}'}, {elapsed / 60:.1f} min)"
        for name, epoch, elapsed in names_epochs_elapsed
    ]
    return f"training: {', '.join(parts)}; {clock.summary()}"


Say = Callable[[str], None]
