"""Scores of the comparison (project/, benchmarks/): macro-F1, per-class F1 and
the smallest class, read from what `spacy evaluate --output` writes and from
the gold annotation of a `.spacy` corpus."""

import subprocess
import sys
from collections import Counter
from pathlib import Path
from statistics import mean
from typing import Dict, Optional, Union

import srsly

from ..corpus import read_docs
from ..labels import class_counts


def per_class_f1(metrics: Dict) -> Dict[str, float]:
    """Per-class test F1 in points, from textcat or NER metrics."""
    per_type = metrics.get("cats_f_per_type") or metrics.get("ents_per_type") or {}
    return {label: 100 * s["f"] for label, s in per_type.items()}


def macro_f1(metrics: Dict) -> float:
    """Macro-F1 in points: spaCy's `cats_macro_f`, or the mean per-type F of NER."""
    if metrics.get("cats_f_per_type") and "cats_macro_f" in metrics:
        return 100 * metrics["cats_macro_f"]
    return mean(per_class_f1(metrics).values())


def corpus_class_counts(path: Union[str, Path]) -> Counter:
    """`class_counts` of a `.spacy` corpus."""
    import spacy

    return class_counts(read_docs(path, spacy.blank("en").vocab))


def smallest_class(counts: Counter) -> str:
    """The class with the fewest gold mentions (ties: the first in label order)."""
    return min(sorted(counts), key=counts.get)


def spacy_evaluate(
    model: Path, corpus: Path, output: Path, gpu_id: int = -1, env: Optional[Dict[str, str]] = None
) -> Dict:
    """`python -m spacy evaluate model corpus --output output` in its own process
    (so that env's thread settings apply to it); returns the metrics it wrote."""
    command = [sys.executable, "-m", "spacy", "evaluate", model, corpus, "--output", output, "--gpu-id", gpu_id]
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"spacy evaluate {model} on {corpus} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return srsly.read_json(output)
