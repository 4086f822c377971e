"""The experiment engine: many independent `spacy train` runs, on this machine
(`local`, the default) or on a Ray cluster the user names (`ray`, the optional
`spacy-hamr[ray]` extra), with a ledger that keeps every finished run.

  spec.py       a run: config after overrides, corpora, where its outputs go, its key
  ledger.py     the JSONL ledger of finished runs, keyed by what makes each run
  training.py   one run's `spacy train` and `spacy evaluate`, the same on every executor
  local.py      the local executor: N runs at a time in child processes
  ray_executor.py  the Ray executor: a task per run, inputs and outputs as bytes
  progress.py   the time left and the lines that say what trains
  engine.py     the scheduler: longest first, resume, first failure, Ctrl-C
  options.py    choosing an executor from --jobs / --threads / --ray-address / --gpus-per-run
"""

from .engine import run_specs
from .ledger import Ledger
from .options import make_executor
from .spec import RunSpec, config_text
from .training import RunFailed

__all__ = ["Ledger", "RunFailed", "RunSpec", "config_text", "make_executor", "run_specs"]
