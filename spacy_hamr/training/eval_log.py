"""The `hamr.eval_log.v1` logger for [training.logger]: every evaluation as one
JSON line (epoch, step, words, seconds, score, and every score spaCy computed,
NER per-type F included), and as the last line the number of updates the run
made ({"updates": n}), so that runs can be compared at equal numbers of updates
and a dev curve read after training. spaCy's console logger prints neither.

Beside the console table, with spacy-loggers' chain:

    [training.logger]
    @loggers = "spacy.ChainLogger.v1"
    logger1 = {"@loggers": "spacy.ConsoleLogger.v1"}
    logger2 = {"@loggers": "hamr.eval_log.v1", "path": "training/eval_log.jsonl"}
"""

import json
import sys
from pathlib import Path
from typing import IO, Callable, Dict, Optional, Tuple

from spacy.language import Language

LogStep = Callable[[Optional[Dict]], None]


def make_eval_log(path: Path) -> Callable[..., Tuple[LogStep, Callable[[], None]]]:
    """Create the logger (registered as `hamr.eval_log.v1` in `@loggers`).

    path (Path): The JSONL file to write (its folder is created; an existing
        file is replaced when training starts).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"[training.logger] hamr.eval_log.v1: path {path} is a directory; it must name a file.")

    def setup(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr):
        path.parent.mkdir(parents=True, exist_ok=True)
        out = path.open("w", encoding="utf8")
        updates = 0

        def log_step(info: Optional[Dict]) -> None:
            nonlocal updates
            updates += 1  # spaCy calls the logger once per update, with info at evaluations
            if info is None:
                return
            row = {key: info[key] for key in ("epoch", "step", "score", "words", "seconds")}
            row["scores"] = info["other_scores"]
            out.write(json.dumps(row) + "\n")
            out.flush()

        def finalize() -> None:
            out.write(json.dumps({"updates": updates}) + "\n")
            out.close()

        return log_step, finalize

    return setup


def read_eval_log(path: Path) -> Tuple[list, Optional[int]]:
    """(evaluation rows, number of updates or None if the run did not finish)."""
    rows, updates = [], None
    for line in Path(path).read_text(encoding="utf8").splitlines():
        row = json.loads(line)
        if "updates" in row:
            updates = row["updates"]
        else:
            rows.append(row)
    return rows, updates
