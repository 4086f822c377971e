"""Every registered function resolves through its entry point in a fresh interpreter."""
import json
import subprocess
import sys

import pytest

REGISTERED = [
    ("batchers", "hamr.v1", "spacy_hamr.batcher"),
    ("misc", "hamr.tfidf_embedder.v1", "spacy_hamr.embedders"),
    ("misc", "hamr.sentence_embedder.v1", "spacy_hamr.embedders"),
    ("misc", "hamr.npy_embedder.v1", "spacy_hamr.embedders"),
    ("misc", "hamr.doc_vectors_embedder.v1", "spacy_hamr.embedders"),
]

PROBE = """
import json, sys
from spacy.util import registry
out = {}
for reg, name in json.loads(sys.argv[1]):
    func = getattr(registry, reg).get(name)
    out[name] = func.__module__
print(json.dumps(out))
"""


def test_entry_points_resolve_without_import():
    """No `import spacy_hamr`, no --code: only the installed entry points."""
    wanted = [(reg, name) for reg, name, _ in REGISTERED]
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(wanted)],
                         check=True, capture_output=True, text=True).stdout
    modules = json.loads(out.strip().splitlines()[-1])
    assert modules == {name: module for _, name, module in REGISTERED}


@pytest.mark.parametrize("reg,name,module", REGISTERED)
def test_registered_function_builds_with_its_defaults(reg, name, module, tmp_path):
    import numpy
    from spacy.tokens import DocBin
    from spacy.util import registry

    # The npy embedder checks that its files exist when it is built.
    numpy.save(tmp_path / "x.npy", numpy.zeros((1, 2), dtype="f"))
    DocBin().to_disk(tmp_path / "x.spacy")
    func = getattr(registry, reg).get(name)
    required = {"hamr.v1": {"size": 100},
                "hamr.npy_embedder.v1": {"path": tmp_path / "x.npy", "corpus": tmp_path / "x.spacy"}}
    assert callable(func(**required.get(name, {})))
