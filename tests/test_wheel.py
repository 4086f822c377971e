"""The wheel, installed on its own into a fresh virtual environment, registers
every function with spaCy from the installed copy: the package data and entry
points a user gets from `pip install dist/spacy_hamr-*.whl`, not this checkout."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_registry import REGISTERED

pytestmark = pytest.mark.slow

# What setup.cfg builds the wheel from (README.md is its long_description).
SOURCES = ["pyproject.toml", "setup.cfg", "README.md", "LICENSE"]

# For each (registry, name): the file of the module that defines the function
# spaCy's registry returns; and the file of the `spacy hamr` command group.
PROBE = """
import json, sys
from spacy.util import registry
found = {f"{reg} {name}": sys.modules[getattr(registry, reg).get(name).__module__].__file__
         for reg, name in json.loads(sys.argv[1])}
registry.cli.get("hamr")
found["cli hamr"] = sys.modules["spacy_hamr.cli"].__file__
print(json.dumps(found))
"""


def run(*command, **kwargs):
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_installed_wheel_registers_every_function(tmp_path):
    # Built from a copy: building in the checkout would rewrite its build/ and
    # .egg-info, which the editable install and running trainings read.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "spacy_hamr", source / "spacy_hamr", ignore=shutil.ignore_patterns("__pycache__"))
    for name in SOURCES:
        shutil.copy(ROOT / name, source / name)
    # No build isolation: the build uses this environment's setuptools, offline.
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--wheel-dir",
        tmp_path / "dist",
        source,
    )
    (wheel,) = (tmp_path / "dist").glob("spacy_hamr-*.whl")

    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # Installed before the environment can see this one's packages, so that pip
    # finds no spacy-hamr there (this environment's editable one) to replace.
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel)
    # The dependencies (spaCy, torch, faiss, ...) come from this environment, as
    # plain path lines: those do not run this environment's own .pth files, one
    # of which maps spacy_hamr to the checkout (the editable install).
    env_site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    own_sites = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (env_site / "test_environment.pth").write_text("".join(f"{site}\n" for site in own_sites))

    # Run away from the checkout, which `python -c` would put first on the path.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    out = run(python, "-c", PROBE, json.dumps([(reg, name) for reg, name, _ in REGISTERED]), cwd=tmp_path, env=env)
    found = json.loads(out.strip().splitlines()[-1])
    assert len(found) == len(REGISTERED) + 1
    installed = env_dir.resolve()
    outside = {name: path for name, path in found.items() if installed not in Path(path).resolve().parents}
    assert not outside, f"not from the installed wheel: {outside}"
