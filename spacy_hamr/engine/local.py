"""The local executor: N runs at a time on this machine, each in child processes
with its thread count set; several runs may share one GPU when asked."""

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, Optional

from .spec import RunSpec
from .training import Children, last_epoch, train_and_evaluate


class LocalExecutor:
    def __init__(self, jobs: int, threads: int, gpu_id: int = -1, gpus_per_run: float = 1.0):
        self.slots, self.threads, self.gpu_id, self.gpus_per_run = jobs, threads, gpu_id, gpus_per_run
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hamr-run")
        self._children = Children()

    def describe(self) -> str:
        where = "the CPU" if self.gpu_id < 0 else f"GPU {self.gpu_id} ({self.gpus_per_run:g} of it per run)"
        return f"local: {self.slots} run(s) at a time on {where}, {self.threads} thread(s) each"

    def submit(self, spec: RunSpec) -> Future:
        return self._pool.submit(
            train_and_evaluate, spec.fields, spec.corpora, spec.staging, self.gpu_id, self.threads, self._children
        )

    def collect(self, spec: RunSpec, value: Dict) -> Dict:
        """The run's result; its outputs are in spec.staging already."""
        return value

    def epoch(self, spec: RunSpec) -> Optional[int]:
        return last_epoch(spec.staging)

    def cancel(self) -> None:
        """Queued runs never start; running ones are ended now."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._children.end_all()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
