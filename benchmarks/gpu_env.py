"""The Python half of benchmarks/gpu_check.sh: what the GPU server's image lacks,
the carried site folder, and the checks that the stack runs on it.

The server's python3 is itself a virtual environment holding torch, cupy, numpy,
transformers 5.x and no spaCy. The check runs that very interpreter with the
carried packages in a folder put first on PYTHONPATH (`install`), so the
image's torch and cupy are its own and the carried transformers 4.53 shadows
the image's 5.x. Only the standard library is imported at module level: the
subcommands run under the image's interpreter, the local venv, or the stand-in
image of the CPU dry run.

    python gpu_env.py carried [--python-version 3.12]     name==version lines to carry
    python gpu_env.py repack WHEELS REQUIREMENTS          the installed ones as wheels (dry run)
    python gpu_env.py fake-image DIR                       a stand-in of the server's image (dry run)
    python gpu_env.py pack FOLDER ARCHIVE PRESET           tar it, xz-compressed at PRESET (or "none")
    python gpu_env.py install ARCHIVE SITE                 unpack the carried site folder
    python gpu_env.py check ROOT SITE MANIFEST OUT_JSON    imports, versions, shadowing
    python gpu_env.py preflight OUT_JSON                   torch, cupy and thinc see the GPU
    python gpu_env.py tests JUNIT_XML [--strict]           the gpu tests' counts
    python gpu_env.py step STATUS_JSON NAME STATE SECONDS [DETAIL]
"""

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import tarfile
import time
import zipfile
from pathlib import Path

# What the check needs: spacy-hamr and its transformer backbone, and pytest for the gpu tests.
ROOTS = ["spacy-hamr", "spacy-transformers", "transformers", "pytest"]
# Taken from the server's image, never carried (its package list names each one):
IMAGE = {
    # the compiled numeric stack: torch (CUDA build), numpy and what is built against them there
    "torch",
    "numpy",
    "scipy",
    "scikit-learn",
    "joblib",
    "threadpoolctl",
    "narwhals",
    "cloudpickle",
    # torch's own requirements, left at the versions the image's torch was installed with
    "filelock",
    "fsspec",
    "jinja2",
    "markupsafe",
    "networkx",
    "sympy",
    "mpmath",
    "setuptools",
    # pytest and what its plugins there (xdist, cov, timeout, ...) were installed with
    "pytest",
    "iniconfig",
    "pluggy",
    "pygments",
    "packaging",
    # compiled, and our stack's bounds are years old: pyyaml>=5.1, regex!=2019.12.17, charset-normalizer<4,>=2
    "pyyaml",
    "regex",
    "charset-normalizer",
    # known versions: safetensors 0.8.0 (transformers 4.53 needs >=0.4.3); hf-xet, which the image's
    # huggingface_hub 1.33.0 requires >=1.6.0,<2 (ours needs >=1.1.3,<2) and which only downloads use
    "safetensors",
    "hf-xet",
}
# Everything else in the closure of ROOTS is carried, the small pure-Python packages that the image
# also holds in unknown versions included (typing-extensions>=4.16 for pydantic-core, click>=8.2.1 for
# spaCy, typer, rich, tqdm, requests, ...): a few hundred kB against a failed import on a one-shot run.
# The image's versions whose major release differs from ours, which the carried ones must shadow:
IMAGE_CONFLICTS = {"transformers": "5.17.0", "tokenizers": "0.23.2", "huggingface-hub": "1.33.0"}
# Imported by `check` under the server's interpreter before anything else runs there.
MODULES = [
    "numpy",
    "torch",
    "spacy",
    "thinc",
    "srsly",
    "pydantic",
    "faiss",
    "transformers",
    "tokenizers",
    "huggingface_hub",
    "spacy_transformers",
    "spacy_hamr",
    "pytest",
]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def marker_env(python_version=None):
    from packaging.markers import default_environment

    env = default_environment()
    if python_version:
        env.update(python_version=python_version, python_full_version=f"{python_version}.0")
    return env


def requirements(dist, extras, env):
    """The distribution's requirements that apply in `env` with one of `extras` ("" for none)."""
    from packaging.requirements import Requirement

    for line in dist.requires or []:
        req = Requirement(line)
        if (
            req.marker is None
            and "" in extras
            or req.marker is not None
            and any(req.marker.evaluate({**env, "extra": e}) for e in extras)
        ):
            yield req


def closure(python_version=None, stop=frozenset()):
    """{name: (distribution or None when not installed, [(requirer, requirement), ...])} for ROOTS
    and everything they need, as found on sys.path (first found wins, as for imports); what the
    packages in `stop` need is left out (the image's own business)."""
    import importlib.metadata as md

    env = marker_env(python_version)
    found, expanded = {}, set()
    todo = [(name, (), None) for name in ROOTS]
    while todo:
        name, extras, edge = todo.pop()
        key = canonical(name)
        dist, edges = found.setdefault(key, [None, []])
        if edge:
            edges.append(edge)
        if dist is None:
            try:
                dist = found[key][0] = md.distribution(name)
            except md.PackageNotFoundError:
                continue
        new = [e for e in ("", *extras) if (key, e) not in expanded and key not in stop]
        expanded.update((key, e) for e in new)
        if new:
            for req in requirements(dist, new, env):
                todo.append((req.name, tuple(req.extras), (key, req)))
    return {key: tuple(value) for key, value in found.items()}


def carried(python_version=None):
    """name==version of each installed distribution in the closure that the image does not provide."""

    found = closure(python_version, stop=IMAGE)
    missing = sorted(key for key, (dist, _) in found.items() if dist is None)
    if missing:
        raise SystemExit(f"needed but not installed in {sys.prefix}: {', '.join(missing)}")
    names = sorted(set(found) - IMAGE - {"spacy-hamr"})
    return [f"{found[n][0].metadata['Name']}=={found[n][0].version}" for n in names]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(wheels: Path, names):
    """Wheels of the installed distributions (`name==version` each), from their RECORD: the dry
    run's offline stand-in for `pip download`, for the local interpreter."""
    import importlib.metadata as md

    wheels.mkdir(parents=True, exist_ok=True)
    for spec in names:
        name, version = spec.split("==")
        dist = md.distribution(name)
        if dist.version != version:
            raise SystemExit(f"{name} {dist.version} is installed, {version} asked for")
        info = Path(dist._path)  # the .dist-info folder
        tags = [
            line.split(":", 1)[1].strip().split("-")
            for line in (info / "WHEEL").read_text().splitlines()
            if line.startswith("Tag:")
        ]
        tag = "-".join(".".join(dict.fromkeys(t[i] for t in tags)) for i in range(3))  # py2.py3-none-any
        stem = f"{re.sub(r'[-_.]+', '_', dist.metadata['Name'])}-{dist.version}"
        record, base = [], info.parent
        with zipfile.ZipFile(wheels / f"{stem}-{tag}.whl", "w", zipfile.ZIP_STORED) as whl:
            for file in dist.files or []:
                path = str(file)
                if (
                    path.startswith("..")
                    or "__pycache__" in path
                    or (
                        path.startswith(info.name + "/")
                        and path.split("/")[-1] in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
                    )
                ):
                    continue
                data = (base / path).read_bytes()
                whl.writestr(path, data)
                record.append(f"{path},{_record_hash(data)},{len(data)}")
            record.append(f"{info.name}/RECORD,,")
            whl.writestr(f"{info.name}/RECORD", "\n".join(record) + "\n")


def fake_image(folder: Path):
    """A stand-in of the server's image for the CPU dry run: a virtual environment made from
    inside this one (as the image's python3 is a venv over a bare base interpreter) that holds
    this venv's copies of IMAGE's packages (symbolic links: torch, numpy, pytest, ...), stand-in
    transformers, tokenizers and huggingface_hub at the image's newer versions, which import
    with an error, and none of spaCy's stack."""
    import importlib.metadata as md
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    site = Path(next((folder / "lib").glob("python3*")) / "site-packages")
    linked = set()
    for name in sorted(set(closure()) & IMAGE):
        dist = md.distribution(name)
        base = Path(dist._path).parent
        for top in {str(f).split("/")[0] for f in dist.files or []} - {"..", "__pycache__"}:
            if top not in linked and (base / top).exists() and not (site / top).exists():
                (site / top).symlink_to(base / top)
                linked.add(top)
    for name, version in IMAGE_CONFLICTS.items():
        module = name.replace("-", "_")
        (site / module).mkdir()
        (site / module / "__init__.py").write_text(
            f"raise ImportError('the image\\'s {name} {version}: the carried one must shadow it')\n"
        )
        info = site / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "RECORD").write_text("")
    print(f"stand-in image {folder}: {len(linked)} linked entries, stand-ins {sorted(IMAGE_CONFLICTS)}")


def pack(folder: Path, archive: Path, preset: str):
    """The folder as a tar archive: xz-compressed at `preset` (0-9; `xz` where installed, for its
    threads, else Python's lzma), or uncompressed with "none" (the CPU dry run, where xz's minutes
    buy nothing)."""
    import shutil
    import subprocess

    start = time.perf_counter()
    if preset == "none":
        with tarfile.open(archive, "w") as tar:
            tar.add(folder, ".")
    elif shutil.which("xz"):
        with open(archive, "wb") as out:
            tar = subprocess.Popen(["tar", "-C", str(folder), "-cf", "-", "."], stdout=subprocess.PIPE)
            xz = subprocess.run(["xz", "-T0", f"-{int(preset)}"], stdin=tar.stdout, stdout=out)
            if tar.wait() or xz.returncode:
                raise SystemExit(f"tar | xz of {folder} failed")
    else:
        with tarfile.open(archive, "w:xz", preset=int(preset)) as tar:
            tar.add(folder, ".")
    print(
        f"packed {folder} into {archive} ({archive.stat().st_size / 2**20:.1f} MiB, "
        f"{'uncompressed' if preset == 'none' else f'xz -{preset}'}) in {time.perf_counter() - start:.0f} s"
    )


def install(archive: Path, site: Path):
    """Unpack the carried site folder (a tar.xz of `pip install --target`'s folder; a plain tar in
    the dry run)."""
    import shutil

    start = time.perf_counter()
    if site.exists():
        shutil.rmtree(site)  # nothing left from an earlier install
    site.mkdir(parents=True)
    with tarfile.open(archive, "r:*") as tar:
        try:
            tar.extractall(site, filter="data")
        except TypeError:  # Python before 3.11.4
            tar.extractall(site)
    print(
        f"unpacked {archive} ({archive.stat().st_size / 2**20:.1f} MiB) into {site} "
        f"in {time.perf_counter() - start:.1f} s"
    )


def where(path, root: Path, site: Path) -> str:
    """Where a module or distribution was found, by its path as imported (links not followed):
    "site" (the carried folder), "tree" (the working tree), "image" (this venv's own
    site-packages: the server image's), "base" (the base interpreter's), else "other"."""
    path = Path(os.path.abspath(path))
    for label, folder in (("site", site), ("tree", root), ("image", sys.prefix), ("base", sys.base_prefix)):
        folder = Path(os.path.abspath(folder))
        if path == folder or folder in path.parents:
            return label
    return "other"


def check(root: Path, site: Path, manifest: Path, out: Path) -> int:
    """Every module imports; each carried distribution is the one found (from the site folder,
    shadowing the image's); spacy_hamr is the working tree's; torch and numpy are the image's.
    A requirement of the carried stack that the version found does not meet, or that is not
    found, is a warning: the imports tell whether it matters."""
    import importlib
    import importlib.metadata as md

    report = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "in_venv": sys.prefix != sys.base_prefix,
        "offline": {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")},
        "modules": {},
        "problems": [],
        "warnings": [],
    }
    for module in MODULES:
        try:
            mod = importlib.import_module(module)
            report["modules"][module] = {
                "version": getattr(mod, "__version__", None),
                "from": where(mod.__file__, root, site),
                "file": mod.__file__,
            }
        except Exception as error:  # noqa: BLE001 - any failure to import is the finding
            report["problems"].append(f"import {module}: {type(error).__name__}: {error}")
    wanted = {
        "spacy_hamr": {"tree"},
        "torch": {"image", "base"},
        "numpy": {"image", "base"},
        "spacy": {"site"},
        "transformers": {"site"},
        "spacy_transformers": {"site"},
    }
    for module, origins in wanted.items():
        got = report["modules"].get(module, {}).get("from")
        if got and got not in origins:
            report["problems"].append(f"{module} is imported from the {got}, not the {' or '.join(sorted(origins))}")
    carried_specs = [line.strip() for line in manifest.read_text().splitlines() if line.strip()]
    for spec in carried_specs:
        name, version = spec.split("==")
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            report["problems"].append(f"carried {spec} is not found")
            continue
        origin = where(dist.locate_file(""), root, site)
        if dist.version != version or origin != "site":
            report["problems"].append(f"carried {spec} is shadowed by {name} {dist.version} from the {origin}")
    found = {}
    for key, (dist, edges) in closure(stop=IMAGE).items():
        found[key] = {
            "version": dist.version if dist else None,
            "from": where(dist.locate_file(""), root, site) if dist else None,
        }
        if dist is None:
            report["warnings"].append(f"{key} is needed (by {', '.join(sorted({r for r, _ in edges}))}) and not found")
        for requirer, req in edges:
            if dist is not None and not req.specifier.contains(dist.version, prereleases=True):
                report["warnings"].append(f"{requirer} needs {req}, found {dist.version} ({found[key]['from']})")
    report["distributions"] = found
    report["ok"] = not report["problems"]
    out.write_text(json.dumps(report, indent=1))
    for line in report["problems"]:
        print(f"[check] PROBLEM {line}")
    for line in report["warnings"]:
        print(f"[check] warning {line}")
    print(
        f"[check] {'ok' if report['ok'] else 'FAILED'}: python {report['python']} at {sys.prefix} "
        f"(a venv: {report['in_venv']}); "
        + ", ".join(f"{m} {v['version']} ({v['from']})" for m, v in report["modules"].items())
    )
    return 0 if report["ok"] else 1


def preflight(out: Path) -> int:
    """torch sees a CUDA device, cupy runs on it and thinc's require_gpu() gives CupyOps: else
    every `gpu` test would skip, and the run stops here. Then, as diagnostics that do not stop
    it (the gpu tests show what they break): a torch matrix product, thinc's gemm and one of its
    own kernels on the device, and an array passed from cupy to torch and back."""
    report, steps = {"ok": False}, []

    def step(what, fn, essential=True):
        try:
            value = fn()
            steps.append({"step": what, "ok": True, "value": value})
            return value
        except Exception as error:  # noqa: BLE001 - the failure is the finding
            steps.append(
                {"step": what, "ok": False, "essential": essential, "error": f"{type(error).__name__}: {error}"}
            )
            if essential:
                raise

    try:
        import torch

        step("torch.cuda.is_available()", lambda: torch.cuda.is_available() or _fail("torch sees no CUDA device"))
        step(
            "torch device",
            lambda: f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}",
        )
        import cupy

        step("cupy device count", lambda: int(cupy.cuda.runtime.getDeviceCount()) or _fail("cupy sees no device"))
        step("cupy sum", lambda: float(cupy.arange(10, dtype="f").sum().get()))
        from thinc.api import NumpyOps, get_current_ops, require_gpu, set_current_ops
        from thinc.util import torch2xp, xp2torch

        step("thinc require_gpu(0)", lambda: require_gpu(0))
        ops = get_current_ops()
        step("thinc ops", lambda: type(ops).__name__ if type(ops).__name__ == "CupyOps" else _fail(type(ops).__name__))
        report["ok"] = True
        step(
            "torch matmul on cuda",
            lambda: float((torch.ones(64, 64, device="cuda") @ torch.ones(64, 64, device="cuda")).sum().item()),
            False,
        )
        step("thinc gemm", lambda: float(ops.gemm(ops.alloc2f(4, 4) + 1, ops.alloc2f(4, 4) + 1).sum()), False)
        step("thinc kernel (seq2col)", lambda: list(ops.seq2col(ops.alloc2f(5, 3) + 1, 1).shape), False)
        step("cupy -> torch -> cupy", lambda: float(torch2xp(xp2torch(ops.alloc1f(3) + 2)).sum()), False)
        set_current_ops(NumpyOps())
    except Exception as error:  # noqa: BLE001
        report["error"] = f"{type(error).__name__}: {error}"
    report["steps"] = steps
    report["diagnostics_failed"] = [s["step"] for s in steps if not s["ok"] and not s["essential"]]
    out.write_text(json.dumps(report, indent=1))
    for s in steps:
        print(f"[preflight] {'ok    ' if s['ok'] else 'FAILED'} {s['step']}: {s.get('value', s.get('error'))}")
    if not report["ok"]:
        print(
            f"[preflight] FAILED: the GPU is not usable from torch, cupy and thinc ({report['error']}); "
            "the gpu tests would only skip",
            file=sys.stderr,
        )
    elif report["diagnostics_failed"]:
        print(
            f"[preflight] the GPU is seen, but these failed: {', '.join(report['diagnostics_failed'])}", file=sys.stderr
        )
    return 0 if report["ok"] else 1


def _fail(what):
    raise RuntimeError(what)


def tests(junit: Path, strict: bool) -> int:
    """The gpu tests' counts from pytest's JUnit XML; with --strict (on the GPU) a skip fails too."""
    import xml.etree.ElementTree as ET

    if not junit.exists():
        print(f"[tests] FAILED: no {junit}: pytest did not finish")
        return 1
    root = ET.parse(junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    bad = counts["failures"] + counts["errors"] + (counts["skipped"] if strict else 0)
    ok = counts["tests"] > 0 and bad == 0
    print(
        f"[tests] {'ok' if ok else 'FAILED'}: {counts}"
        + (" (a skip counts as a failure on the GPU)" if strict and counts["skipped"] else "")
    )
    return 0 if ok else 1


def record_step(status: Path, name: str, state: str, seconds: float, detail: str = ""):
    """Add or replace one step in the status JSON (written after every step)."""
    data = json.loads(status.read_text()) if status.exists() else {"steps": []}
    data["steps"] = [s for s in data["steps"] if s["name"] != name]
    data["steps"].append({"name": name, "state": state, "seconds": round(seconds, 1), "detail": detail})
    data["failed"] = [s["name"] for s in data["steps"] if s["state"] == "failed"]
    tmp = status.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(status)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("carried")
    p.add_argument("--python-version")
    p = sub.add_parser("repack")
    p.add_argument("wheels", type=Path)
    p.add_argument("requirements", type=Path)
    p = sub.add_parser("fake-image")
    p.add_argument("folder", type=Path)
    p = sub.add_parser("pack")
    p.add_argument("folder", type=Path)
    p.add_argument("archive", type=Path)
    p.add_argument("preset", choices=[str(n) for n in range(10)] + ["none"])
    p = sub.add_parser("install")
    p.add_argument("archive", type=Path)
    p.add_argument("site", type=Path)
    p = sub.add_parser("check")
    for name in ("root", "site", "manifest", "out"):
        p.add_argument(name, type=Path)
    p = sub.add_parser("preflight")
    p.add_argument("out", type=Path)
    p = sub.add_parser("tests")
    p.add_argument("junit", type=Path)
    p.add_argument("--strict", action="store_true")
    p = sub.add_parser("step")
    p.add_argument("status", type=Path)
    p.add_argument("name")
    p.add_argument("state", choices=["ok", "failed", "skipped", "running"])
    p.add_argument("seconds", type=float)
    p.add_argument("detail", nargs="?", default="")
    args = parser.parse_args()
    if args.cmd == "carried":
        print("\n".join(carried(args.python_version)))
    elif args.cmd == "repack":
        repack(args.wheels, args.requirements.read_text().split())
    elif args.cmd == "fake-image":
        fake_image(args.folder)
    elif args.cmd == "pack":
        pack(args.folder, args.archive, args.preset)
    elif args.cmd == "install":
        install(args.archive, args.site)
    elif args.cmd == "check":
        sys.exit(check(args.root, args.site, args.manifest, args.out))
    elif args.cmd == "preflight":
        sys.exit(preflight(args.out))
    elif args.cmd == "tests":
        sys.exit(tests(args.junit, args.strict))
    elif args.cmd == "step":
        record_step(args.status, args.name, args.state, args.seconds, args.detail)


if __name__ == "__main__":
    main()
