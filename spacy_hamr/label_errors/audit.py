"""The cross-validated label-error audit: the user's own config trained on K
folds, out-of-sample probabilities for every training example, ranked by
cleanlab's confident learning (the optional `spacy-hamr[audit]` extra).

Everything that could stop a fold or make its predictions in-sample (the
extra missing, a corpus that is not an exclusive text classification corpus, a
config that does not resolve, has no textcat with a softmax over its classes,
or whose train corpus does not follow [paths] train) is checked before the
first fold trains.
"""

from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Union

import numpy
from spacy import util
from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.tokens import Doc, DocBin
from spacy.util import registry

from ..corpus import read_docs
from ..labels import positive_categories
from ..textcat_output import exclusive_classes_block, scores_per_label
from .training_dynamics import gold_indices

AUDIT_EXTRA = "pip install 'spacy-hamr[audit]'"
# Stands for a fold's train.spacy when checking that the folds' [paths] train reaches the train corpus.
FOLD_TRAIN = "<the fold's train.spacy>"


def require_cleanlab() -> None:
    try:
        import cleanlab  # noqa: F401
    except ImportError as err:
        raise ValueError(f"The audit ranks with cleanlab, which is not installed ({err}): {AUDIT_EXTRA}") from None


class AuditPlan(NamedTuple):
    config: "util.Config"  # not interpolated, [paths] train still to set per fold
    docs: List[Doc]
    labels: List[str]  # the textcat's classes, sorted
    gold: numpy.ndarray  # (N,) class index of each example


def plan_audit(config_path: Path, train_path: Path, overrides: Dict, folds: int) -> AuditPlan:
    """Check everything the folds need; raise ValueError naming what is wrong."""
    require_cleanlab()
    if folds < 2:
        raise ValueError(f"--folds must be at least 2, got {folds}.")
    try:
        config = util.load_config(
            config_path, overrides={**overrides, "paths.train": str(train_path)}, interpolate=False
        )
    except Exception as err:  # spaCy's config errors come in several types
        raise ValueError(f"The config {config_path} does not load: {err}") from None
    nlp = _pipeline_of(config, config_path)
    _check_textcat(nlp, config_path)
    _check_train_corpus(config, config_path)
    dev = config.interpolate()["paths"].get("dev")
    if not dev or not Path(dev).is_file():
        raise ValueError(
            f"The config's dev corpus ([paths] dev = {dev!r}) does not exist: the folds pick "
            "model-best on it. Give it as --paths.dev PATH."
        )
    docs = _read_corpus(train_path, nlp)
    labels, gold = _exclusive_labels(docs, train_path)
    counts = numpy.bincount(gold, minlength=len(labels))
    small = [f"{labels[j]} ({counts[j]})" for j in range(len(labels)) if counts[j] < folds]
    if small:
        raise ValueError(
            f"Every class needs at least --folds ({folds}) examples, so that each fold's model "
            f"learns it: {', '.join(small)}."
        )
    return AuditPlan(config, docs, labels, gold)


def _pipeline_of(config, config_path: Path) -> Language:
    try:
        nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
        registry.resolve(nlp.config.interpolate()["training"], schema=ConfigSchemaTraining)
    except Exception as err:
        raise ValueError(f"The config {config_path} cannot train: {err}") from None
    return nlp


def _check_textcat(nlp: Language, config_path: Path) -> None:
    frozen = set(nlp.config["training"].get("frozen_components", []))
    factory = {name: nlp.get_pipe_meta(name).factory for name in nlp.pipe_names}
    names = [name for name in nlp.pipe_names if factory[name] == "textcat" and name not in frozen]
    if len(names) != 1:
        multilabel = [name for name in nlp.pipe_names if factory[name] == "textcat_multilabel"]
        hint = (
            f" ({', '.join(multilabel)} is textcat_multilabel, which the audit does not cover)"
            if multilabel
            else "; for NER, use `spacy hamr hard-examples`, which reports span suspects"
        )
        raise ValueError(
            f"The audit needs one trained `textcat` (exclusive classes) in {config_path}, found {len(names)}{hint}."
        )
    if scores_per_label(nlp.get_pipe(names[0])):
        raise ValueError(
            f"The audit needs a `textcat` with exclusive classes, but {names[0]!r} has "
            f"exclusive_classes = false in {exclusive_classes_block(nlp, names[0])} of {config_path}: "
            "it scores each label with its own sigmoid, not with the distribution over the classes "
            "that cleanlab ranks by. Set exclusive_classes = true."
        )


def fold_config(config: "util.Config", train: Union[str, Path]) -> "util.Config":
    """The config that trains on `train`: [paths] train set to it."""
    config = config.copy()
    config["paths"]["train"] = str(train)
    return config


def _check_train_corpus(config: "util.Config", config_path: Path) -> None:
    """Each fold trains on its part of the corpus through [paths] train: refuse a
    train corpus whose path does not follow it (every fold would train on all of
    it, and the held-out predictions would be in-sample)."""
    resolved = fold_config(config, FOLD_TRAIN).interpolate()
    corpus = resolved["training"]["train_corpus"]
    try:
        path = util.dot_to_object(resolved, corpus).get("path")
    except KeyError:
        raise ValueError(f"[training] train_corpus = {corpus!r} names no block of {config_path}.") from None
    if path != FOLD_TRAIN:
        raise ValueError(
            f"The config's [{corpus}] path = {path!r} does not follow [paths] train: every fold would "
            f"train on that corpus instead of its part, and the held-out predictions would be "
            f"in-sample. Set [{corpus}] path = ${{paths.train}} in {config_path}."
        )


def _read_corpus(path: Path, nlp: Language) -> List[Doc]:
    try:
        docs = read_docs(path, nlp.vocab)
    except Exception as err:
        raise ValueError(f"{path} is not a spaCy corpus (.spacy DocBin): {err}") from None
    if not docs:
        raise ValueError(f"{path} holds no examples.")
    return docs


def _exclusive_labels(docs: Sequence[Doc], path: Path):
    labels = sorted({label for doc in docs for label in doc.cats})
    gold = []
    for i, doc in enumerate(docs):
        positive = positive_categories(doc.cats)
        if len(positive) != 1:
            raise ValueError(
                f"Example {i} of {path} has {len(positive)} gold categories ({', '.join(positive) or 'none'}): "
                f"the audit needs exactly one per example. Text: {doc.text[:80]!r}"
            )
        gold.append(positive[0])
    if len(labels) < 2:
        raise ValueError(f"{path} has {len(labels)} class: label errors need at least two.")
    return labels, gold_indices(gold, labels)


def out_of_sample_probabilities(
    plan: AuditPlan,
    output_dir: Path,
    folds: int,
    seed: int = 0,
    executor=None,
    report: Callable[[str], None] = print,
) -> numpy.ndarray:
    """(N, C) probabilities, each row from the fold model that did not train on it.

    The folds train through the experiment engine (spacy_hamr.engine): `executor` runs
    them (one at a time on this machine by default), and output_dir/ledger.jsonl keeps
    each finished fold, so that an interrupted audit trains only the folds it lacks."""
    from sklearn.model_selection import StratifiedKFold

    from ..engine import Ledger, RunSpec, config_text, make_executor, run_specs

    dev = Path(plan.config.interpolate()["paths"]["dev"])
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(plan.gold, plan.gold))
    specs = []
    for k, (fit, held) in enumerate(splits):
        fold_train = output_dir / "folds" / f"train_{k}.spacy"
        fold_train.parent.mkdir(parents=True, exist_ok=True)
        DocBin(docs=[plan.docs[i] for i in fit], store_user_data=True).to_disk(fold_train)
        specs.append(
            RunSpec(
                name=f"Fold {k + 1}/{folds} ({len(fit)} examples, {len(held)} held out)",
                config=config_text(plan.config),
                corpora={"train": fold_train, "dev": dev},
                output=output_dir / f"fold_{k}",
                cost=len(fit),
                group=("audit",),
            )
        )
    executor = executor if executor is not None else make_executor(jobs=1, say=report)
    run_specs(specs, executor, Ledger(output_dir / "ledger.jsonl"), say=report)
    probs = numpy.full((len(plan.docs), len(plan.labels)), numpy.nan)
    for spec, (_, held) in zip(specs, splits):
        best = util.load_model(spec.output / "model-best")
        probs[held] = predict_probabilities(best, [plan.docs[i] for i in held], plan.labels)
    return probs


def predict_probabilities(nlp: Language, docs: Sequence[Doc], labels: Sequence[str]) -> numpy.ndarray:
    """The textcat's probabilities for each doc, in the order of `labels` (the
    pipeline runs whole: the textcat may rely on what components before it set)."""
    rows = [[doc.cats.get(label, 0.0) for label in labels] for doc in nlp.pipe(d.text for d in docs)]
    probs = numpy.asarray(rows, dtype="float64")
    return probs / numpy.maximum(probs.sum(axis=1, keepdims=True), 1e-12)


class Findings(NamedTuple):
    ranked: numpy.ndarray  # indices of the flagged examples, most likely error first
    quality: numpy.ndarray  # (N,) cleanlab's label quality score (self-confidence)
    suggested: numpy.ndarray  # (N,) the likeliest other class
    per_class: Dict[str, int]  # estimated label errors per given class
    from_to: List[Dict]  # {from, to, count}, the confident joint's off-diagonal


def rank_label_errors(gold: numpy.ndarray, probs: numpy.ndarray, labels: Sequence[str]) -> Findings:
    require_cleanlab()
    from cleanlab.count import compute_confident_joint
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    ranked = find_label_issues(gold, probs, return_indices_ranked_by="self_confidence")
    quality = get_label_quality_scores(gold, probs, method="self_confidence")
    others = probs.copy()
    others[numpy.arange(len(gold)), gold] = -1
    joint = compute_confident_joint(gold, probs)
    per_class = {labels[j]: int(joint[j].sum() - joint[j, j]) for j in range(len(labels))}
    from_to = [
        {"from": labels[i], "to": labels[j], "count": int(joint[i, j])}
        for i in range(len(labels))
        for j in range(len(labels))
        if i != j and joint[i, j] > 0
    ]
    from_to.sort(key=lambda row: (-row["count"], row["from"], row["to"]))
    return Findings(ranked, quality, others.argmax(axis=1), per_class, from_to)


def finding_records(plan: AuditPlan, probs: numpy.ndarray, findings: Findings) -> List[Dict]:
    rows = []
    for rank, i in enumerate(findings.ranked.tolist()):
        gold, suggested = int(plan.gold[i]), int(findings.suggested[i])
        rows.append(
            {
                "rank": rank + 1,
                "index": i,
                "text": plan.docs[i].text,
                "label": plan.labels[gold],
                "suggested": plan.labels[suggested],
                "quality": round(float(findings.quality[i]), 6),
                "p_label": round(float(probs[i, gold]), 6),
                "p_suggested": round(float(probs[i, suggested]), 6),
            }
        )
    return rows


def summary_of(plan: AuditPlan, findings: Findings, folds: int, seconds: float, extra: Optional[Dict] = None) -> Dict:
    return {
        "examples": len(plan.docs),
        "folds": folds,
        "flagged": int(len(findings.ranked)),
        "estimated_per_class": findings.per_class,
        "from_to": findings.from_to,
        "seconds": round(seconds, 1),
        **(extra or {}),
    }
