"""spaCy imports this package for every command of its CLI (the `spacy_cli`
entry point), so what that import loads slows down `spacy info` as much as
`spacy train`: the neighbour index's faiss waits until a batcher is built."""

import json
import subprocess
import sys

COMMANDS = ["adjust", "compare", "convert", "find-label-errors", "hard-examples", "make-meta", "variant-config"]

# `python -m spacy ARGS` (spacy/__main__.py) for each ARGS, in one interpreter;
# then whether faiss was imported.
PROBE = """
import json, sys
from spacy.cli import setup_cli
for args in json.loads(sys.argv[1]):
    sys.argv = ["spacy", *args]
    try:
        setup_cli()
    except SystemExit as done:
        assert not done.code, (args, done.code)
print(json.dumps({"faiss": "faiss" in sys.modules}))
"""


def test_spacy_info_and_hamr_help_do_not_import_faiss():
    commands = [["info"], ["hamr", "--help"]]
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    *output, last = result.stdout.strip().splitlines()
    assert json.loads(last) == {"faiss": False}
    listed = [line.split()[0] for line in output[output.index("Commands:") + 1 :] if line.strip()]
    assert listed == COMMANDS
