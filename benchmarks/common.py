"""What the benchmark scripts share: the datasets folder, running a command,
converting a dataset once, and writing a variant's config.

The scripts run as `python benchmarks/NAME.py`, which puts this folder on the
import path, so they import it as `common`.
"""

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

from thinc.api import Config

from spacy_hamr.experiments.convert import convert_dataset
from spacy_hamr.experiments.variants import variant_config
from spacy_hamr.resampling.embedders import default_model_path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets"


def run(cmd, **kwargs):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-3000:] + result.stderr[-3000:])
    return result.stdout


def cpu_name() -> str:
    """The CPU's model name (timings and BLAS results depend on it)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def corpus_paths(corpus: Path) -> Dict[str, object]:
    """The [paths] overrides of a converted dataset folder (train.spacy, dev.spacy)."""
    return {"paths.train": corpus / "train.spacy", "paths.dev": corpus / "dev.spacy"}


def spacy_train(config: Path, output: Path, overrides: Optional[Dict[str, object]] = None, *extra, **kwargs) -> str:
    """`python -m spacy train config --output output`, then `--KEY VALUE` for each
    override and the `extra` arguments as given; run as `run` runs it."""
    settings = [arg for key, value in (overrides or {}).items() for arg in (f"--{key}", value)]
    return run([sys.executable, "-m", "spacy", "train", config, "--output", output, *settings, *extra], **kwargs)


def dataset_corpus(data: Path, work: Path) -> Path:
    """work/corpus with the dataset in data/ converted to .spacy (once)."""
    corpus = work / "corpus"
    if not (corpus / "test.spacy").exists():
        convert_dataset(data, corpus)
    return corpus


def make_config(work: Path, pipeline: str, variant: str, extra: dict, name: str = None, base: Path = None) -> Path:
    """variant's config in work/: from `base`, or from spacy init config's efficiency config."""
    if base is None:
        base = work / f"{pipeline}.cfg"
        if not base.exists():
            run([sys.executable, "-m", "spacy", "init", "config", base, "-p", pipeline, "-o", "efficiency", "-F"])
    config = Config().from_disk(base, interpolate=False)
    if "transformer" in config["components"]:
        config["components"]["transformer"]["model"]["name"] = default_model_path()
    config = variant_config(config, variant, extra.get("batcher"), extra.get("callback"))
    path = work / f"{base.stem if base.parent != work else pipeline}_{name or variant}.cfg"
    config.to_disk(path)
    return path


def train_overrides(items) -> List[str]:
    """--override's SECTION.KEY=VALUE items as spacy train's --SECTION.KEY VALUE arguments."""
    return [part for item in items for part in (f"--{item.split('=', 1)[0]}", item.split("=", 1)[1])]


def block_settings(items) -> dict:
    """--set's batcher.KEY=JSON and callback.KEY=JSON items as {"batcher": {...}, "callback": {...}}."""
    extra = {"batcher": {}, "callback": {}}
    for item in items:
        key, value = item.split("=", 1)
        block, name = key.split(".", 1)
        extra[block][name] = json.loads(value)
    return extra


# What the project's commands write inside project/: left out of a copy, so that it starts bare.
PROJECT_GENERATED = ("assets", "corpus", "training", "metrics", "smoke", "results", "project.lock")


def spacy_project(project: Path, *args) -> None:
    """`python -m spacy project run ARGS` in the project folder."""
    subprocess.run([sys.executable, "-m", "spacy", "project", "run", *args], cwd=project, check=True)


def fresh_project(folder: Path, data: Path, datasets: str) -> Path:
    """A bare copy of project/ in folder with the datasets copied and converted (before any clock starts)."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "project", folder, ignore=shutil.ignore_patterns(*PROJECT_GENERATED))
    spacy_project(folder, "copy-assets", ".", "--vars.local_datasets", str(data))
    spacy_project(folder, "convert", ".", "--vars.datasets", datasets)
    return folder
