"""A spaCy logger for benchmarks: every evaluation as one JSON line (step,
epoch, words, seconds, score, and every score spaCy computed, NER per-type F
included), so a plain run's dev curve can be read after training; and, as the
last line, the number of updates the run made ({"updates": n}).

    python -m spacy train CONFIG --code benchmarks/eval_logger.py \
        --training.logger '{"@loggers": "hamr_bench.eval_jsonl.v1", "path": "curve.jsonl"}'
"""
import json
import sys
from pathlib import Path

import spacy


@spacy.registry.loggers("hamr_bench.eval_jsonl.v1")
def make_eval_jsonl_logger(path: str):
    def setup(nlp, stdout=sys.stdout, stderr=sys.stderr):
        out = Path(path).open("w", encoding="utf8")
        updates = 0

        def log_step(info):
            nonlocal updates
            updates += 1  # spaCy calls the logger once per update, with info at evaluations
            if info is None:
                return
            row = {key: info[key] for key in ("epoch", "step", "score", "words", "seconds")}
            row["scores"] = info["other_scores"]
            out.write(json.dumps(row) + "\n")
            out.flush()
            stdout.write(f"[eval] epoch {info['epoch']} step {info['step']} score {info['score']:.4f}\n")
            stdout.flush()

        def finalize():
            out.write(json.dumps({"updates": updates}) + "\n")
            out.close()

        return log_step, finalize

    return setup
