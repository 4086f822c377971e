"""The `hamr.logit_adjustment.v1` callback for [training.before_to_disk]: every
checkpoint `spacy train` saves (model-last, and model-best, which spaCy copies
from it) is saved logit-adjusted, the adjustment chosen on the dev corpus at
that checkpoint (spacy_hamr/adjust.py).

spaCy calls `before_to_disk` at every checkpoint and then saves what it
returns, so the model still in training must stay as it is: the returned
pipeline is the training one, whose next `to_disk` (the save) shifts the
output bias for the write only and restores it exactly afterwards.
"""
from pathlib import Path
from typing import Callable, Optional

from spacy.language import Language

from .adjust import plan_adjustment, shifted_bias
from .meta import read_examples
from .status import status

BLOCK = "[training.before_to_disk] hamr.logit_adjustment.v1"


def make_logit_adjustment(component: Optional[str] = None, dev_path: Optional[Path] = None,
                          prior_path: Optional[Path] = None) -> Callable[[Language], Language]:
    """Create the callback (registered as `hamr.logit_adjustment.v1` in `@callbacks`).

    component (str or None): The textcat or textcat_multilabel component to
        adjust; None: the pipeline's only one.
    dev_path (Path or None): A .spacy corpus to choose the adjustment on; None
        uses [training] dev_corpus.
    prior_path (Path or None): A .spacy corpus whose class distribution is the
        prior (exclusive textcat); None uses [training] train_corpus.
    """
    for name, path in (("dev_path", dev_path), ("prior_path", prior_path)):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"{BLOCK}: {name} {path} does not exist or is not a file.")
    corpora = {}

    def before_to_disk(nlp: Language) -> Language:
        if not corpora:  # read once: the corpora do not change during training
            corpora["dev"], where = read_examples(nlp, dev_path, "dev_corpus")
            if not corpora["dev"]:
                raise ValueError(f"{BLOCK}: the dev corpus {where} is empty.")
            corpora["train"] = [eg.reference for eg in read_examples(nlp, prior_path, "train_corpus")[0]]
        adjustment = plan_adjustment(nlp, corpora["dev"], train=corpora["train"], component=component)
        save = nlp.to_disk

        def save_adjusted(path, *, exclude=tuple()):
            del nlp.to_disk  # one save only: the next checkpoint chooses again
            with shifted_bias(adjustment.layer, adjustment.delta):
                save(path, exclude=exclude)

        nlp.to_disk = save_adjusted
        status(f"[hamr] Saved logit-adjusted: {adjustment.describe()}")
        return nlp

    return before_to_disk
