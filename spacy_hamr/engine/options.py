"""The executor a command asked for: local by default (--jobs, --threads,
--gpu-id, --gpus-per-run), Ray when the user names a cluster (--ray-address, or
RAY_ADDRESS in the environment)."""

import os
from typing import Optional

from .local import LocalExecutor
from .progress import Say


def usable_cores() -> int:
    """The CPU cores this process may run on: fewer than the machine's under
    `taskset` or a container's CPU set, so that jobs and threads fit those."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def make_executor(
    jobs: int = 0,
    threads: int = 0,
    gpu_id: int = -1,
    gpus_per_run: float = 1.0,
    ray_address: Optional[str] = None,
    say: Say = print,
):
    """jobs: runs at once, 0 for one per usable core (on a GPU, as many as gpus_per_run lets share it).
    threads: each run's threads, 0 for the usable cores shared between the jobs (on Ray: 1).
    gpu_id: the local GPU, -1 for the CPU. gpus_per_run: the share of a GPU each run takes (on Ray,
    only with gpu_id >= 0). ray_address: a Ray cluster's address or "auto"; None reads RAY_ADDRESS,
    and without it the runs train locally."""
    if jobs < 0:
        raise ValueError(f"--jobs must be 0 (one per CPU core) or more, not {jobs}")
    if threads < 0:
        raise ValueError(f"--threads must be 0 (the cores shared between the jobs) or more, not {threads}")
    if not 0 < gpus_per_run <= 1 and not (gpus_per_run > 1 and float(gpus_per_run).is_integer()):
        raise ValueError(
            f"--gpus-per-run must be a share of one GPU (0 < x <= 1) or a whole number, not {gpus_per_run}"
        )
    address = ray_address or os.environ.get("RAY_ADDRESS") or None
    if address:
        from .ray_executor import RayExecutor

        return RayExecutor(address, threads or 1, gpus_per_run if gpu_id >= 0 else 0.0, say)
    if gpu_id >= 0:
        if gpus_per_run > 1:
            raise ValueError("--gpus-per-run above 1 needs a Ray cluster; on one machine a run takes one GPU")
        most = int(1 / gpus_per_run + 1e-9)
        if jobs > most:
            raise ValueError(
                f"--jobs {jobs} on one GPU with --gpus-per-run {gpus_per_run:g}: at most {most} runs share it"
            )
        jobs = jobs or most
    jobs = jobs or usable_cores()
    return LocalExecutor(jobs, threads or max(1, usable_cores() // jobs), gpu_id, gpus_per_run)
