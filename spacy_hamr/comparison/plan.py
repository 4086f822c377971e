"""What a comparison trains, decided and checked before the first training:
the task, the arms, the seeds, the update budget every arm gets, and the runs."""

from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

from spacy import util
from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.training import Example
from spacy.util import registry
from thinc.api import Config

from ..corpus import read_docs
from ..engine import RunSpec, config_text
from ..experiments.variants import VARIANTS, variant_config
from ..labels import class_counts
from .adjusted import adjusts, base_arm

DEFAULT_ARMS = {
    # The adjusted arms train nothing (comparison/adjusted.py). The batcher alone is not adjusted: its
    # class-balanced draws make the prior uniform, and adjusting by it changes nothing.
    "textcat": ["baseline", "oversample", "hamr", "baseline_adjusted", "hamr_adjusted"],
    "ner": ["baseline", "oversample", "hamr", "uniform_draws"],
}
TASKS = {"textcat": "textcat", "textcat_multilabel": "textcat", "ner": "ner"}
SMALL_DEV_CLASS = 10  # dev examples below which a class's F1 moves by whole points with one example


class ComparisonPlan(NamedTuple):
    task: str  # "textcat" or "ner"
    arms: List[str]
    seeds: List[int]
    updates: int  # every arm's budget
    budget_note: str  # how the budget was set, for the console and the report
    corpora: Dict[str, Path]  # train, dev and, where given, test
    train_counts: Dict[str, int]  # class -> training mentions
    dev_counts: Dict[str, int]
    configs: Dict[str, str]  # arm -> its config text, the budget pinned: what best.cfg holds, and what every
    # run of a trained arm trains (with its seed and the engine's evaluation log)
    trained: List[str]  # the arms that train: an arm that logit-adjusts another's models trains nothing


def plan_comparison(
    config_path: Path,
    overrides: Dict,
    arms: Optional[Sequence[str]],
    seeds: int,
    test_path: Optional[Path] = None,
    steps: int = 0,
    epochs: int = 0,
) -> ComparisonPlan:
    """Check everything the runs need; raise ValueError naming the setting at fault."""
    if seeds < 2:
        raise ValueError(f"--seeds {seeds}: a paired comparison needs at least 2 seeds (a standard error).")
    if steps < 0 or epochs < 0:
        raise ValueError("--steps and --epochs are numbers of updates and of epochs, 0 or more.")
    try:
        config = util.load_config(config_path, overrides=overrides, interpolate=False)
        nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
        training = registry.resolve(nlp.config.interpolate()["training"], schema=ConfigSchemaTraining)
    except Exception as err:  # spaCy's config errors come in several types
        raise ValueError(f"The config {config_path} does not resolve: {err}") from None
    task = _task_of(nlp, config_path)
    arms = list(arms or DEFAULT_ARMS[task])
    for arm in arms:
        if arm not in VARIANTS:
            raise ValueError(f"--arms: unknown arm {arm!r}; choose from {', '.join(VARIANTS)}.")
        if task == "ner" and VARIANTS[arm].textcat_only:
            raise ValueError(f"--arms: {arm!r} adjusts a text classifier's logits; it does not apply to NER.")
    if len(set(arms)) < 2 or len(set(arms)) != len(arms):
        raise ValueError(f"--arms {' '.join(arms)}: name at least two different arms, each once.")
    corpora = _corpora(nlp.config.interpolate()["paths"], test_path)
    train_docs = read_docs(corpora["train"], nlp.vocab)
    train_counts = _class_counts(train_docs, corpora["train"], task)
    dev_docs = read_docs(corpora["dev"], nlp.vocab)
    dev_counts = _class_counts(dev_docs, corpora["dev"], task)
    if any(adjusts(arm) for arm in arms) and len(dev_docs) < 2:
        raise ValueError(
            f"{corpora['dev']} holds one example: a logit adjustment is chosen on one half of dev and scored on the other."
        )
    _check_labels(nlp, config, train_counts, corpora["train"])
    updates, note = _budget(training, train_docs, nlp, steps, epochs)
    # Equal updates for every arm: no early stop, and HAMR's longer epochs do not count.
    pinned = {"training.max_steps": updates, "training.max_epochs": 0, "training.patience": 0}
    trained = list(dict.fromkeys(base_arm(arm) for arm in arms))  # an adjusted arm's base trains for it
    configs = {arm: _pinned(variant_config(config, arm), pinned) for arm in dict.fromkeys([*arms, *trained])}
    return ComparisonPlan(
        task,
        arms,
        list(range(seeds)),
        updates,
        note,
        corpora,
        dict(train_counts),
        dict(dev_counts),
        configs,
        trained,
    )


def comparison_specs(plan: ComparisonPlan, output_dir: Path) -> List[RunSpec]:
    """The runs: every trained arm, every seed, model-best scored on dev and on test where given."""
    evaluate = ("dev", "test") if "test" in plan.corpora else ("dev",)
    return [
        RunSpec(
            name=f"{arm} seed {seed}",
            config=config_text(Config().from_str(plan.configs[arm], interpolate=False), {"system.seed": seed}),
            corpora=plan.corpora,
            output=output_dir / "runs" / f"{arm}_s{seed}",
            evaluate=evaluate,
            cost=plan.updates,
            group=(plan.task, arm),
            info={"arm": arm, "seed": seed},
        )
        for seed in plan.seeds
        for arm in plan.trained
    ]


def small_dev_classes(plan: ComparisonPlan) -> List[str]:
    """Training classes with fewer than SMALL_DEV_CLASS dev examples (or none): too few to tell arms apart."""
    return [
        f"{label} ({plan.dev_counts.get(label, 0)})"
        for label in sorted(plan.train_counts)
        if plan.dev_counts.get(label, 0) < SMALL_DEV_CLASS
    ]


def _pinned(config: Config, pinned: Dict) -> str:
    return util.load_config_from_str(config.to_str(), overrides=pinned, interpolate=False).to_str()


def _task_of(nlp: Language, config_path: Path) -> str:
    frozen = set(nlp.config["training"].get("frozen_components", []))
    tasks = {
        TASKS[nlp.get_pipe_meta(name).factory]
        for name in nlp.pipe_names
        if nlp.get_pipe_meta(name).factory in TASKS and name not in frozen
    }
    if len(tasks) != 1:
        raise ValueError(
            f"compare needs a config that trains one textcat or one ner; {config_path} trains "
            f"{', '.join(sorted(tasks)) or 'neither'}."
        )
    return tasks.pop()


def _corpora(paths: Dict, test_path: Optional[Path]) -> Dict[str, Path]:
    corpora = {}
    for name, path, setting in (
        ("train", paths.get("train"), "--paths.train"),
        ("dev", paths.get("dev"), "--paths.dev"),
        ("test", test_path, "--test"),
    ):
        if path is None and name == "test":
            continue
        if not path or not Path(path).is_file():
            raise ValueError(f"{setting} '{path}': no such .spacy file; give the {name} corpus as {setting} PATH.")
        corpora[name] = Path(path)
    return corpora


def _class_counts(docs, path: Path, task: str):
    if not docs:
        raise ValueError(f"{path} holds no examples.")
    counts = class_counts(docs)
    textcat = any(doc.cats for doc in docs)
    if (task == "textcat") != textcat or not counts:
        what = "categories (doc.cats)" if task == "textcat" else "entities (doc.ents)"
        raise ValueError(f"{path} has no {what}, which the config's {task} trains on.")
    return counts


def _check_labels(nlp: Language, config, train_counts, train_path: Path) -> None:
    """Labels the config names (in [initialize.components]) must occur in the training corpus."""
    components = config.get("initialize", {}).get("components", {})
    for name, block in components.items():
        labels = block.get("labels") if isinstance(block, dict) else None
        if isinstance(labels, (list, tuple)):
            missing = sorted(set(labels) - set(train_counts))
            if missing:
                raise ValueError(
                    f"[initialize.components.{name}] labels names {', '.join(missing)}, which {train_path} lacks."
                )
    if len(train_counts) < 2:
        raise ValueError(
            f"{train_path} has {len(train_counts)} class: a comparison of imbalance methods needs two or more."
        )


def _budget(training: Dict, train_docs, nlp: Language, steps: int, epochs: int):
    """Every arm's number of updates: --steps, else --epochs (or the config's max_epochs) of the
    plain config's batches."""
    if steps:
        return steps, f"{steps} updates (--steps)"
    epochs = epochs or training["max_epochs"]
    if epochs <= 0:
        raise ValueError(
            "The config's [training] max_epochs is 0 (train until patience runs out), which gives the arms no "
            "common budget: give --epochs N (N epochs of plain training) or --steps N."
        )
    # The batcher's size may be a schedule that runs on from one epoch to the next (spaCy's
    # compounding batch_by_words): count each epoch's batches as `spacy train` would make them.
    examples = [Example(doc, doc) for doc in train_docs]
    batches = [sum(1 for _ in training["batcher"](examples)) for _ in range(epochs)]
    updates = sum(batches)
    each = f"{batches[0]} batches" if len(set(batches)) == 1 else f"{batches[0]} to {batches[-1]} batches"
    return updates, f"{updates} updates ({epochs} epochs of plain training, {each} each)"
