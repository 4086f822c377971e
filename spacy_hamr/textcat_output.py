"""What a textcat component's output is: a softmax over exclusive classes, or
one sigmoid per label; and the config block that decides it."""

from typing import Dict, Optional

from spacy.language import Language
from spacy.pipeline import MultiLabel_TextCategorizer, TextCategorizer
from thinc.api import Model


def output_is_softmax(model: Model) -> bool:
    """True when the last layer is thinc's Softmax (objective: cross-entropy)."""
    while model.layers:
        model = model.layers[-1]
    return model.name == "softmax"


def scores_per_label(pipe: TextCategorizer) -> bool:
    """True when a textcat component scores each label with its own sigmoid
    (its model's exclusive_classes = false, as textcat_multilabel's default),
    False for one softmax over the labels: a distribution over the classes."""
    return bool(pipe.model.attrs.get("multi_label", isinstance(pipe, MultiLabel_TextCategorizer)))


def exclusive_classes_block(nlp: Language, name: str) -> str:
    """The config block that sets the component's exclusive_classes, e.g.
    "[components.textcat.model]" (in spaCy's ensemble: its linear_model)."""

    def find(section: Dict, block: str) -> Optional[str]:
        if "exclusive_classes" in section:
            return block
        inner = (find(value, f"{block}.{key}") for key, value in section.items() if isinstance(value, dict))
        return next((found for found in inner if found), None)

    block = f"components.{name}.model"
    return f"[{find(nlp.config['components'][name].get('model', {}), block) or block}]"
