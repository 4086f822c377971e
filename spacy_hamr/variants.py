"""The comparison's runs as config edits: full HAMR, the paper's ablations and
the static baselines a user would otherwise pick. Each changes only
[training.batcher] and [training.before_update] of a config.

    python -m spacy hamr variant-config base.cfg hamr_no_boost out.cfg
"""
from typing import Dict, Optional, Tuple

from thinc.api import Config

HAMR_BATCHER = {"@batchers": "hamr.v1"}
HAMR_CALLBACK = {"@callbacks": "hamr.v1"}
META_DESIGN = {"meta_set": "balanced", "meta_decay": "decoupled"}

# name -> (batcher keys to set, before_update block or None)
VARIANTS: Dict[str, Tuple[Dict, Optional[Dict]]] = {
    "baseline": ({}, None),
    "hamr": (HAMR_BATCHER, HAMR_CALLBACK),
    "hamr_no_resample": ({**HAMR_BATCHER, "resample": False}, HAMR_CALLBACK),
    "hamr_no_meta": (HAMR_BATCHER, {**HAMR_CALLBACK, "weighting": "none"}),
    "hamr_no_boost": ({**HAMR_BATCHER, "boost_weight": 0.0}, HAMR_CALLBACK),
    "hamr_reference": ({**HAMR_BATCHER, "class_power": 1.0},
                       {**HAMR_CALLBACK, "hardness": "global_decay", "meta_every": 1}),
    "hamr_global_decay": (HAMR_BATCHER, {**HAMR_CALLBACK, "hardness": "global_decay"}),
    # The weight net with AdamW (decoupled weight decay), nothing else changed.
    "hamr_adamw": (HAMR_BATCHER, {**HAMR_CALLBACK, "meta_decay": "decoupled"}),
    # Meta-learning with a balanced meta set held out of training, the macro meta loss,
    # decoupled weight decay, and per-class rates on the loss weights (w_i = c_y r(z_i)).
    "hamr_class_rates": (HAMR_BATCHER, {**HAMR_CALLBACK, **META_DESIGN, "class_rates": "loss"}),
    "hamr_class_rates_sampling": (HAMR_BATCHER, {**HAMR_CALLBACK, **META_DESIGN, "class_rates": "sampling"}),
    # Ablations: the class rates alone (no weight net; hardness from the loss, as
    # hamr_no_meta), and the weight net with the new meta set but without class rates.
    "hamr_class_rates_only": (HAMR_BATCHER, {**HAMR_CALLBACK, "meta_set": "balanced", "weighting": "none",
                                             "class_rates": "loss"}),
    "hamr_no_class_rates": (HAMR_BATCHER, {**HAMR_CALLBACK, **META_DESIGN}),
    # The class rates alone against the dev set's macro loss: nothing held out of training.
    "hamr_class_rates_dev_only": (HAMR_BATCHER, {**HAMR_CALLBACK, "weighting": "none", "meta_loss": "macro",
                                                 "class_rates": "loss"}),
    "oversample": ({**HAMR_BATCHER, "alpha": 0.0, "boost_weight": 0.0, "class_power": 0.0}, None),
    "sqrt_oversample": ({**HAMR_BATCHER, "alpha": 0.0, "boost_weight": 0.0, "class_power": 0.5}, None),
    "inverse_freq": ({**HAMR_BATCHER, "resample": False}, {**HAMR_CALLBACK, "weighting": "inverse_frequency"}),
}


def variant_config(base: Config, name: str, batcher_extra: Optional[Dict] = None,
                   callback_extra: Optional[Dict] = None) -> Config:
    """A copy of `base` (loaded with interpolate=False) with variant `name`'s two blocks."""
    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}; choose from {', '.join(VARIANTS)}.")
    batcher, callback = VARIANTS[name]
    config = base.copy()
    config["training"]["batcher"].update({**batcher, **(batcher_extra or {})})
    if callback is not None:
        config["training"]["before_update"] = {**callback, **(callback_extra or {})}
    return config
