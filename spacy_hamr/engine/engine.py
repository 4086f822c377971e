"""The scheduler: the runs not in the ledger, longest first, as many at once as
the executor has slots; a record in the ledger as each ends; a line as each
starts and ends and at least every minute while runs train. It stops scheduling
at the first failure and stops at once on Ctrl-C, keeping what finished."""

import shutil
import time
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Callable, Dict, Optional, Sequence

from .ledger import Ledger
from .progress import Say, TimeLeft, running_line
from .spec import RunSpec
from .training import RunFailed

HEARTBEAT_SECONDS = 60.0


def run_specs(
    specs: Sequence[RunSpec],
    executor,
    ledger: Ledger,
    say: Say = print,
    on_record: Optional[Callable[[RunSpec, Dict], None]] = None,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> Dict[str, Dict]:
    """Train every spec the ledger lacks; return {spec.key: record} for all of them.

    on_record(spec, record) is called for each spec's record, those already in the ledger
    first. Raises RunFailed after the runs already training have ended when one fails, and
    KeyboardInterrupt on Ctrl-C, after ending the runs in training."""
    keys = {spec.key: spec for spec in specs}
    if len(keys) != len(specs):
        raise ValueError("Two runs of the job are the same run (same config, corpora and seed): give each its own.")
    done = {key: record for key, record in ledger.records().items() if key in keys}
    for key, record in done.items():
        if on_record is not None:
            on_record(keys[key], record)
    pending = sorted((s for s in specs if s.key not in done), key=lambda s: -s.cost)  # stable: ties keep their order
    say(
        f"{len(specs)} runs, {len(done)} finished already ({ledger.path}), {len(pending)} to train; {executor.describe()}"
    )
    if not pending:
        return done
    clock = TimeLeft({spec.key: (spec.group, spec.cost) for spec in pending}, executor.slots)
    running, failures, queue = {}, [], list(pending)
    last_line = time.monotonic()
    try:
        while queue or running:
            while queue and not failures and len(running) < executor.slots:
                spec = queue.pop(0)
                say(f"{spec.name}: training ({spec.output})")
                clock.start(spec.key)
                running[executor.submit(spec)] = spec
            if failures:
                queue.clear()
            finished, _ = wait(
                list(running), timeout=max(1.0, heartbeat - (time.monotonic() - last_line)), return_when=FIRST_COMPLETED
            )
            for future in finished:
                spec = running.pop(future)
                try:
                    result = executor.collect(spec, future.result())
                except Exception as err:  # a run's error, or the executor's (a Ray task out of retries)
                    if not isinstance(err, RunFailed):
                        err = RunFailed(spec.name, spec.staging / "train.log", f"{type(err).__name__}: {err}")
                    failures.append(err)
                    say(f"{spec.name}: FAILED; its log: {err.log}. No new run starts.")
                    continue
                record = _finish(spec, result, clock.finish(spec.key))
                ledger.append(record)
                done[spec.key] = record
                if on_record is not None:
                    on_record(spec, record)
                say(f"{spec.name}: finished in {record['seconds']:.0f} s; {clock.summary()}")
            if running and time.monotonic() - last_line >= heartbeat:
                say(running_line([(s.name, executor.epoch(s), clock.elapsed(s.key)) for s in running.values()], clock))
                last_line = time.monotonic()
    except KeyboardInterrupt:
        executor.cancel()
        say(
            f"Interrupted: the runs in training were ended and no other starts. {len(done)} of {len(specs)} runs "
            f"are finished and kept in {ledger.path}; the same command again trains only the other "
            f"{len(specs) - len(done)}."
        )
        raise
    finally:
        executor.close()
    if failures:
        raise failures[0]
    return done


def _finish(spec: RunSpec, result: Dict, seconds: float) -> Dict:
    """Move the finished run from its staging folder to its output folder; its ledger record."""
    if spec.output.exists():
        shutil.rmtree(spec.output)
    spec.staging.rename(spec.output)
    return {"key": spec.key, "name": spec.name, "output": str(spec.output), **spec.info, **result, "seconds": seconds}
