"""A run as the engine sees it: what makes it (the config after overrides, the
corpora's content, the code's version), where its outputs go, and its key."""

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import spacy
from spacy import util
from thinc.api import Config

from .. import __version__

# What every run's logger chain adds, so that the engine can count updates and say the epoch.
EVAL_LOG = "eval_log.jsonl"


@dataclass(frozen=True)
class RunSpec:
    """One training.

    name: what the progress lines and errors call it ("sst5 hamr seed 0").
    config: the config text, overrides applied, not interpolated (config_text makes it).
    corpora: {"train": path, "dev": path, and the corpus to score model-best on, if any}.
    output: the run's folder on the driver (model-best, model-last, train.log, eval_log.jsonl).
    evaluate: the corpora of `corpora` that model-best is scored on after training (e.g. ("dev", "test")).
    cost: the run's expected size (e.g. training tokens x epochs): longest first, and the time left.
    group: runs whose seconds per unit of cost are alike, most alike first: (task, arm).
    info: fields copied into the ledger record (dataset, arm, seed, epochs...).
    """

    name: str
    config: str
    corpora: Dict[str, Path] = field(hash=False)
    output: Path
    evaluate: Tuple[str, ...] = ()
    cost: float = 1.0
    group: Tuple[str, ...] = ()
    info: Dict = field(default_factory=dict, hash=False)

    def __post_init__(self):
        missing = [name for name in ("train", "dev") if name not in self.corpora]
        missing += [name for name in self.evaluate if name not in self.corpora]
        if missing:
            raise ValueError(f"{self.name}: corpora {sorted(self.corpora)} lack {missing}")
        for name, path in self.corpora.items():
            if not Path(path).is_file():
                raise ValueError(f"{self.name}: the {name} corpus {path} does not exist")

    @property
    def key(self) -> str:
        """What makes the run: its config, its corpora's content, the evaluated corpora and the code's versions.
        The corpora's paths are not part of it: a run is the same wherever its files lie."""
        digests = {name: file_digest(Path(p)) for name, p in self.corpora.items()}
        return run_key(self.config, digests, self.evaluate)

    @property
    def fields(self) -> Dict:
        """What a run needs besides its corpora, as plain data (it travels to Ray)."""
        return {"name": self.name, "config": self.config, "evaluate": self.evaluate}

    @property
    def staging(self) -> Path:
        """Where the run trains (or its outputs are unpacked) before it is finished: a run killed
        mid-training leaves only this folder, which the next attempt replaces."""
        return self.output.with_name(self.output.name + ".partial")


def run_key(config: str, digests: Dict[str, str], evaluate: Tuple[str, ...]) -> str:
    made_of = {
        "config": config,
        "corpora": digests,
        "evaluate": list(evaluate),
        "spacy": spacy.__version__,
        "spacy_hamr": __version__,
    }
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode("utf8")).hexdigest()[:20]


def file_digest(path: Path) -> str:
    stat = path.stat()
    return _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """The MD5 of a file's content, once per version of it (size and mtime are part of the cache key)."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_text(config: Union[Path, Config], overrides: Optional[Dict] = None) -> str:
    """A config (file or Config) with `overrides` applied and every run's evaluation log
    chained after its logger, as text: what a RunSpec trains."""
    if isinstance(config, Config):
        config = util.load_config_from_str(config.to_str(), overrides=overrides or {}, interpolate=False)
    else:
        config = util.load_config(config, overrides=overrides or {}, interpolate=False)
    config["training"]["logger"] = {
        "@loggers": "spacy.ChainLogger.v1",
        "logger1": config["training"].get("logger") or {"@loggers": "spacy.ConsoleLogger.v1"},
        # The path is set where the run trains (training.py).
        "logger2": {"@loggers": "hamr.eval_log.v1", "path": EVAL_LOG},
    }
    return config.to_str()
