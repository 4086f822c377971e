"""How the label-error report ranks examples where the training dynamics do not
rank them: `textcat_multilabel`, a `textcat` whose model has
exclusive_classes = false (one sigmoid per label: its scores are no
distribution over the classes, which the dynamics' tiers assume), and state
files without predictions. Each example ranks by its loss over the run, each
epoch's loss taken relative to that epoch's mean, scaled by its learned
hardness relative to uniform; `suspect` where the model disagrees with the
gold class and most neighbours (by the batcher's embedder) carry another class.
"""

from typing import Dict, List, Optional, Sequence

import numpy
from spacy.language import Language
from spacy.pipeline import TextCategorizer
from spacy.tokens import Doc

from ..labels import NO_ENTITY, NO_LABEL, positive_categories
from ..textcat_output import scores_per_label


def hardness_scores(state: Dict[str, numpy.ndarray]) -> numpy.ndarray:
    """Per-example score: its loss relative to the epoch's mean loss, averaged
    over the epochs that drew it, times its hardness relative to uniform.

    Dividing by the epoch's mean removes the trend of training (every loss is
    high in the first epoch and falls after), so an example that was only drawn
    early is not mistaken for a hard one. Never drawn: its latest known loss
    relative to the mean latest loss (0 if none is known).
    """
    epochs = numpy.asarray(state["epoch_losses"], dtype="float64")
    finite = numpy.isfinite(epochs)
    with numpy.errstate(invalid="ignore", divide="ignore"):
        epoch_mean = numpy.where(finite, epochs, 0.0).sum(axis=1) / finite.sum(axis=1)
        relative = numpy.where(finite, epochs / numpy.maximum(epoch_mean, 1e-12)[:, None], 0.0)
    seen = finite.sum(axis=0)
    last = numpy.asarray(state["last_loss"], dtype="float64")
    last_mean = numpy.nanmean(last) if numpy.isfinite(last).any() else 1.0
    fallback = numpy.nan_to_num(last / max(last_mean, 1e-12), nan=0.0)
    score = numpy.where(seen > 0, relative.sum(axis=0) / numpy.maximum(seen, 1), fallback)
    hardness = state["hardness"]
    return score * hardness / max(float(hardness.mean()), 1e-300)


def scored_per_label(nlp: Language, score_labels: Sequence[str]) -> Optional[str]:
    """The textcat component that recorded the state's predictions (its labels
    are the score columns) if it scores each label with its own sigmoid, else None."""
    for name, pipe in nlp.pipeline:
        if isinstance(pipe, TextCategorizer) and list(pipe.labels) == [str(label) for label in score_labels]:
            return name if scores_per_label(pipe) else None
    return None


def model_agrees(gold: Doc, predicted: Doc, label: str, textcat: bool, exclusive: bool) -> bool:
    """Does the model reproduce the gold class `label` of this example?"""
    if label in (NO_LABEL, NO_ENTITY):
        return not (predicted.ents or positive_categories(predicted.cats))
    if textcat:
        if exclusive:
            return bool(predicted.cats) and max(predicted.cats, key=predicted.cats.get) == label
        return label in positive_categories(predicted.cats)
    spans = lambda doc: {(e.start_char, e.end_char) for e in doc.ents if e.label_ == label}  # noqa: E731
    return spans(gold) == spans(predicted)


def is_suspect(label: str, neighbour_labels: Sequence[List[str]], agrees: bool) -> bool:
    """A likely label error: the model disagrees with the gold class, and most
    neighbours carry another class."""
    others = sum(label not in classes for classes in neighbour_labels)
    return not agrees and others > len(neighbour_labels) / 2
