"""The `hamr.logit_adjustment.v1` callback for [training.before_to_disk]: every
checkpoint `spacy train` saves (model-last, and model-best, which spaCy copies
from it) is saved logit-adjusted, the adjustment chosen on the dev corpus at
that checkpoint (spacy_hamr/logit_adjustment/adjust.py).

spaCy calls `before_to_disk` at every checkpoint and then saves what it
returns, so the model still in training must stay as it is: the returned
pipeline is the training one, whose next `to_disk` (the save) shifts the
output bias for the write only and restores it exactly afterwards.
"""

from pathlib import Path
from typing import Callable, Optional

from spacy.language import Language

from ..corpus import check_corpus_path, read_examples
from ..errors import LOGIT_ADJUSTMENT_BLOCK
from ..training.shared_state import active_state
from ..util import status
from .adjust import class_prior, plan_adjustment, shares_prior, shifted_bias, textcat_component, trained_on_draws


def make_logit_adjustment(
    component: Optional[str] = None, dev_path: Optional[Path] = None, prior_path: Optional[Path] = None
) -> Callable[[Language], Language]:
    """Create the callback (registered as `hamr.logit_adjustment.v1` in `@callbacks`).

    component (str or None): The textcat or textcat_multilabel component to
        adjust; None: the pipeline's only one.
    dev_path (Path or None): A .spacy corpus to choose the adjustment on; None
        uses [training] dev_corpus.
    prior_path (Path or None): A .spacy corpus whose class distribution is the
        prior (exclusive textcat); None takes the class distribution the model
        was trained on: the class shares of the hamr.v1 batcher's draws so far
        where it resamples, else [training] train_corpus.
    """
    problems = check_corpus_path("dev_path", dev_path) + check_corpus_path("prior_path", prior_path)
    if problems:
        raise ValueError(f"{LOGIT_ADJUSTMENT_BLOCK}: " + "; ".join(problems))
    corpora = {}

    def before_to_disk(nlp: Language) -> Language:
        on_draws = prior_path is None and trained_on_draws(nlp.config)
        if not corpora:  # read once: the corpora do not change during training
            corpora["dev"], corpora["dev_name"] = read_examples(nlp, dev_path, "dev_corpus")
            if not corpora["dev"]:
                raise ValueError(f"{LOGIT_ADJUSTMENT_BLOCK}: the dev corpus {corpora['dev_name']} is empty.")
            if not on_draws:
                corpora["train"], corpora["prior_name"] = read_examples(nlp, prior_path, "train_corpus")
        labels = nlp.get_pipe(textcat_component(nlp, component)).labels
        if on_draws:
            # The draws change every step: the prior is what this checkpoint was trained on.
            prior = shares_prior([active_state().draw_shares()], labels)
            source = "the hamr.v1 batcher's draws"
        else:
            prior = class_prior([eg.reference for eg in corpora["train"]], labels)
            source = corpora["prior_name"]
        adjustment = plan_adjustment(
            nlp, corpora["dev"], prior=prior, component=component, dev_name=corpora["dev_name"], prior_name=source
        )
        save = nlp.to_disk

        def save_adjusted(path, *, exclude=tuple()):
            del nlp.to_disk  # one save only: the next checkpoint chooses again
            with shifted_bias(adjustment.layer, adjustment.delta):
                save(path, exclude=exclude)

        nlp.to_disk = save_adjusted
        status(f"[hamr] Saved logit-adjusted: {adjustment.describe()}")
        return nlp

    return before_to_disk
