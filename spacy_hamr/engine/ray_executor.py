"""The Ray executor (`pip install 'spacy-hamr[ray]'`): each run is a Ray task
with its CPUs and GPUs (fractions allowed) and its thread count set. It needs no
shared filesystem: a task gets its config and corpora as bytes (each corpus put
in Ray's object store once), trains in a temporary folder of its node, and
returns the run's folder as an archive, which the driver unpacks where the local
executor would have written it. A task whose worker dies (out of memory, a node
lost) is retried; a Python error in a run is not."""

import io
import os
import shutil
import tarfile
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Dict, Optional

from .spec import RunSpec, file_digest
from .training import Children, RunKilled, last_epoch, train_and_evaluate

RAY_EXTRA = "pip install 'spacy-hamr[ray]'"
RETRIES = 3  # attempts after a worker's death
PROGRESS_SECONDS = 10.0  # how often a task reports its epoch


class RayExecutor:
    def __init__(self, address: str, cpus_per_run: float, gpus_per_run: float = 0.0, say=print):
        try:
            import ray
        except ImportError as err:
            raise ValueError(f"Running on a Ray cluster needs Ray ({err}): {RAY_EXTRA}") from None
        self._ray = ray
        # Only the cluster the user named: an address, or "auto" for the one `ray start` made on this machine.
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, ValueError) as err:
            raise ValueError(f"No Ray cluster at {address!r}: {err}") from None
        resources = ray.cluster_resources()
        cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
        nodes = sum(1 for node in ray.nodes() if node["Alive"])
        fits = [cpus // cpus_per_run] + ([gpus // gpus_per_run] if gpus_per_run else [])
        self.slots = int(min(fits))
        if self.slots < 1:
            ray.shutdown()
            raise ValueError(
                f"The Ray cluster at {address} has {cpus:g} CPUs and {gpus:g} GPUs: too few for one run of "
                f"{cpus_per_run:g} CPUs and {gpus_per_run:g} GPUs."
            )
        self.cpus_per_run, self.gpus_per_run = cpus_per_run, gpus_per_run
        self.cluster = f"Ray cluster at {address}: {nodes} node(s), {cpus:g} CPUs, {gpus:g} GPUs"
        say(self.cluster)
        self._task = ray.remote(max_retries=RETRIES, retry_exceptions=[RunKilled])(_train_task)
        self._board = ray.remote(num_cpus=0)(_ProgressBoard).remote()
        self._corpora: Dict[str, object] = {}  # content digest: object ref
        self._refs: Dict[str, object] = {}  # spec key: object ref of its task
        self._epochs: Dict[str, int] = {}

    def describe(self) -> str:
        gpus = f", {self.gpus_per_run:g} GPU" if self.gpus_per_run else ""
        return f"ray: {self.slots} run(s) at a time, {self.cpus_per_run:g} CPU(s){gpus} each ({self.cluster})"

    def submit(self, spec: RunSpec) -> Future:
        names = sorted(spec.corpora)
        refs = [self._corpus(Path(spec.corpora[name])) for name in names]
        fields = {**spec.fields, "key": spec.key}
        options = {"num_cpus": self.cpus_per_run, "num_gpus": self.gpus_per_run, "name": spec.name[:100]}
        ref = self._task.options(**options).remote(fields, names, self._board, *refs)
        self._refs[spec.key] = ref
        return ref.future()

    def _corpus(self, path: Path):
        """The corpus's bytes in the object store, put there once for every run that trains on it."""
        digest = file_digest(path)
        if digest not in self._corpora:
            self._corpora[digest] = self._ray.put(path.read_bytes())
        return self._corpora[digest]

    def collect(self, spec: RunSpec, value: Dict) -> Dict:
        """Unpack the run's folder into spec.staging; the run's result."""
        self._refs.pop(spec.key, None)
        if spec.staging.exists():
            shutil.rmtree(spec.staging)
        spec.staging.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(value["archive"]), mode="r:") as archive:
            archive.extractall(spec.staging, filter="data")
        return value["result"]

    def epoch(self, spec: RunSpec) -> Optional[int]:
        try:
            self._epochs = self._ray.get(self._board.snapshot.remote(), timeout=5)
        except Exception:  # a busy cluster: say the last epoch heard
            pass
        return self._epochs.get(spec.key)

    def cancel(self) -> None:
        """Cancel every task: queued ones never start, running ones' workers are killed (force),
        and their `spacy train` children with them."""
        for ref in self._refs.values():
            self._ray.cancel(ref, force=True)
        self._refs.clear()

    def close(self) -> None:
        self._ray.shutdown()


class _ProgressBoard:
    """A Ray actor: the last epoch each running task reported."""

    def __init__(self):
        self.epochs = {}

    def report(self, key: str, epoch: int) -> None:
        self.epochs[key] = epoch

    def snapshot(self) -> Dict[str, int]:
        return dict(self.epochs)


def _train_task(fields: Dict, names, board, *corpora: bytes) -> Dict:
    """The Ray task: the corpora written to a temporary folder, the run trained there, the run's folder archived."""
    import ray

    assigned = ray.get_runtime_context().get_assigned_resources()
    threads = max(1, int(assigned.get("CPU", 1)))
    # Ray sets CUDA_VISIBLE_DEVICES to the GPU(s) it assigned: the task's device 0.
    gpu_id = 0 if assigned.get("GPU") else -1
    with tempfile.TemporaryDirectory(prefix="hamr-run-") as tmp:
        paths = {}
        for name, data in zip(names, corpora):
            paths[name] = Path(tmp) / "corpus" / f"{name}.spacy"
            paths[name].parent.mkdir(exist_ok=True)
            paths[name].write_bytes(data)
        workdir = Path(tmp) / "run"
        stop = threading.Event()
        watcher = threading.Thread(target=_report_epochs, args=(board, fields["key"], workdir, stop), daemon=True)
        watcher.start()
        try:
            result = train_and_evaluate(fields, paths, workdir, gpu_id, threads, Children())
            result["node"] = ray.get_runtime_context().get_node_id()
        finally:
            stop.set()
        buffer = io.BytesIO()
        # Not compressed: model weights hardly compress, and gzip took seconds a run (ray_time.json).
        with tarfile.open(fileobj=buffer, mode="w:") as archive:
            for item in sorted(os.listdir(workdir)):
                archive.add(workdir / item, arcname=item)
    return {"result": result, "archive": buffer.getvalue()}


def _report_epochs(board, key: str, workdir: Path, stop: threading.Event) -> None:
    while not stop.wait(PROGRESS_SECONDS):
        epoch = last_epoch(workdir)
        if epoch is not None:
            board.report.remote(key, epoch)
