"""The scores of an arm that logit-adjusts another arm's model (`baseline_adjusted`
adjusts `baseline`'s). The adjustment happens after training and changes nothing
in it, so such an arm trains nothing of its own: it takes its base arm's
model-best, seed for seed.

Its strength is chosen on dev, so its dev score must not come from the examples it
was chosen on. It is cross-fitted: dev is split in two halves class by class, the
adjustment chosen on each half scores the other, and the two halves' predictions
are scored together, so that all of dev counts, as for every other arm. Its test
score uses the adjustment chosen on all of dev: what `spacy train best.cfg`
saves.
"""

import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

from spacy.training import Corpus, Example

from ..experiments.variants import VARIANTS
from ..labels import corpus_labels, primary_labels
from ..logit_adjustment.adjust import (
    choose_adjustment,
    dev_predictions,
    model_prior,
    predict,
    textcat_scores,
    trained_on_draws,
)


def adjusts(arm: str) -> bool:
    """Whether the arm logit-adjusts a model after training (textcat only)."""
    return VARIANTS[arm].textcat_only


def base_arm(arm: str) -> str:
    """The arm whose models `arm` adjusts: the variant with the same training blocks and no
    adjustment; `arm` itself where it adjusts nothing."""
    if not adjusts(arm):
        return arm
    variant = VARIANTS[arm]
    return next(
        name
        for name, other in VARIANTS.items()
        if other.before_to_disk is None and (other.batcher, other.callback) == (variant.batcher, variant.callback)
    )


def dev_halves(examples: List[Example]) -> Tuple[List[int], List[int]]:
    """The indices of dev's two halves: alternating within each class (by each example's rarest
    class), in corpus order, so that each half holds about half of every class."""
    labels = primary_labels(corpus_labels([eg.reference for eg in examples]))
    halves, seen = ([], []), Counter()
    for i, label in enumerate(labels):
        halves[seen[label] % 2].append(i)
        seen[label] += 1
    return halves


def adjusted_scores(model: Path, corpora: Dict[str, Path]) -> Dict:
    """Score the logit-adjusted `model` (a base arm's model-best): {"metrics": {"dev": the
    cross-fitted dev scores, "test": where corpora has it, with the adjustment chosen on all of
    dev}, as `spacy evaluate` writes them, "seconds"}."""
    import spacy

    start = time.perf_counter()
    nlp = spacy.load(model)
    dev = list(Corpus(corpora["dev"])(nlp))
    pipe, layer, predicted, probs = dev_predictions(nlp, dev, dev_name=str(corpora["dev"]))
    # A model trained on HAMR's draws carries their class shares; any other learned the training corpus's
    # distribution (named here: the path in its config is where it trained, maybe another machine).
    prior, prior_name = model_prior(model, nlp, pipe.labels, None if trained_on_draws(nlp.config) else corpora["train"])

    def chosen_on(indices: List[int]):
        return choose_adjustment(pipe, layer, [predicted[i] for i in indices], probs[indices], prior, prior_name)

    halves = dev_halves(dev)
    crossed = probs.copy()
    for tuned, scored in (halves, halves[::-1]):
        crossed[scored] = chosen_on(tuned).predictions(probs[scored])
    metrics = {"dev": textcat_scores(pipe, predicted, crossed)}
    adjustment = chosen_on(list(range(len(dev))))
    if "test" in corpora:
        test_predicted, test_probs = predict(nlp, list(Corpus(corpora["test"])(nlp)), pipe.labels)
        metrics["test"] = textcat_scores(pipe, test_predicted, adjustment.predictions(test_probs))
    return {"metrics": metrics, "seconds": time.perf_counter() - start}
