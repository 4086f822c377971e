"""The comparison's runs as config edits: full HAMR, the paper's ablations and
the static baselines a user would otherwise pick. Each changes only
[training.batcher] and [training.before_update] of a config, and the
logit-adjusted runs also [training.before_to_disk].

    python -m spacy hamr variant-config base.cfg hamr_no_boost out.cfg
"""

from typing import Dict, NamedTuple, Optional

from thinc.api import Config

HAMR_BATCHER = {"@batchers": "hamr.v1"}
HAMR_CALLBACK = {"@callbacks": "hamr.v1"}
# The batcher alone with class-balanced draws: no hardness term, no neighbour boost.
OVERSAMPLE = {**HAMR_BATCHER, "alpha": 0.0, "boost_weight": 0.0, "class_power": 0.0}
META_DESIGN = {"meta_set": "balanced", "meta_decay": "decoupled"}
# Saves model-best logit-adjusted (textcat only): spacy_hamr/logit_adjustment/adjust_on_save.py.
LOGIT_ADJUSTMENT = {"@callbacks": "hamr.logit_adjustment.v1"}


class Variant(NamedTuple):
    batcher: Dict  # keys set in [training.batcher]; empty: the base's own batcher, made plain
    callback: Optional[Dict]  # [training.before_update], None: the base's own, unless it is HAMR's
    before_to_disk: Optional[Dict] = None  # [training.before_to_disk], None: as for callback

    @property
    def textcat_only(self) -> bool:
        return self.before_to_disk == LOGIT_ADJUSTMENT

    @property
    def cost_rank(self) -> float:
        """How much a run of it asks of the user, to prefer the cheapest of tied arms: plain spaCy (0), the
        batcher alone (1), the callback too (2); a logit adjustment adds a step (0.5)."""
        rank = 2 if self.callback is not None else 1 if self.batcher.get("@batchers") == "hamr.v1" else 0
        return rank + (0.5 if self.textcat_only else 0)


_VARIANTS = {
    "baseline": ({}, None),
    "hamr": (HAMR_BATCHER, HAMR_CALLBACK),
    "hamr_no_resample": ({**HAMR_BATCHER, "resample": False}, HAMR_CALLBACK),
    "hamr_no_meta": (HAMR_BATCHER, {**HAMR_CALLBACK, "weighting": "none"}),
    "hamr_no_boost": ({**HAMR_BATCHER, "boost_weight": 0.0}, HAMR_CALLBACK),
    "hamr_reference": (
        {**HAMR_BATCHER, "class_power": 1.0},
        {**HAMR_CALLBACK, "hardness": "global_decay", "meta_every": 1},
    ),
    "hamr_global_decay": (HAMR_BATCHER, {**HAMR_CALLBACK, "hardness": "global_decay"}),
    # The weight net with AdamW (decoupled weight decay), nothing else changed.
    "hamr_adamw": (HAMR_BATCHER, {**HAMR_CALLBACK, "meta_decay": "decoupled"}),
    # Meta-learning with a balanced meta set held out of training, the macro meta loss,
    # decoupled weight decay, and per-class rates on the loss weights (w_i = c_y r(z_i)).
    "hamr_class_rates": (HAMR_BATCHER, {**HAMR_CALLBACK, **META_DESIGN, "class_rates": "loss"}),
    "hamr_class_rates_sampling": (HAMR_BATCHER, {**HAMR_CALLBACK, **META_DESIGN, "class_rates": "sampling"}),
    # Ablations: the class rates alone (no weight net; hardness from the loss, as
    # hamr_no_meta), and the weight net with the new meta set but without class rates.
    "hamr_class_rates_only": (
        HAMR_BATCHER,
        {**HAMR_CALLBACK, "meta_set": "balanced", "weighting": "none", "class_rates": "loss"},
    ),
    "hamr_no_class_rates": (HAMR_BATCHER, {**HAMR_CALLBACK, **META_DESIGN}),
    # The class rates alone against the dev set's macro loss: nothing held out of training.
    "hamr_class_rates_dev_only": (
        HAMR_BATCHER,
        {**HAMR_CALLBACK, "weighting": "none", "meta_loss": "macro", "class_rates": "loss"},
    ),
    "oversample": (OVERSAMPLE, None),
    # The plain config with HAMR's number of draws (1.2 N uniform draws per epoch, with
    # replacement): the control that keeps extra updates from counting as HAMR's gain.
    "uniform_draws": ({**HAMR_BATCHER, "alpha": 0.0, "boost_weight": 0.0, "class_power": 1.0}, None),
    "sqrt_oversample": ({**HAMR_BATCHER, "alpha": 0.0, "boost_weight": 0.0, "class_power": 0.5}, None),
    "inverse_freq": ({**HAMR_BATCHER, "resample": False}, {**HAMR_CALLBACK, "weighting": "inverse_frequency"}),
    # Post-hoc logit adjustment (tau on dev) of the plain config and of HAMR (hamr_adjusted, below).
    "baseline_adjusted": ({}, None, LOGIT_ADJUSTMENT),
    # Plain spaCy training that records each example's predictions for the label-error
    # report (docs/label-errors.md): spaCy's shuffled epochs, unweighted losses.
    "record_only": (
        {**HAMR_BATCHER, "resample": False, "state_path": "training/hamr_state.npz"},
        {**HAMR_CALLBACK, "weighting": "none"},
    ),
    "hamr_adjusted": (HAMR_BATCHER, HAMR_CALLBACK, LOGIT_ADJUSTMENT),
}
VARIANTS: Dict[str, Variant] = {name: Variant(*blocks) for name, blocks in _VARIANTS.items()}


def plain_config(base: Config) -> Config:
    """A copy of `base` (loaded with interpolate=False) without spacy-hamr's blocks: the hamr.v1
    batcher becomes the spaCy batcher it stands in for, with its sizes (`batch_by_padded.v1`
    where it has a buffer, else `batch_by_words.v1`), and HAMR's callbacks leave [training].
    A plain config comes back as it is."""
    config = base.copy()
    training = config["training"]
    batcher = training.get("batcher", {})
    if batcher.get("@batchers") == HAMR_BATCHER["@batchers"]:
        padded = batcher.get("buffer") is not None
        name, keys = (
            ("spacy.batch_by_padded.v1", ("size", "buffer", "discard_oversize", "get_length"))
            if padded
            else ("spacy.batch_by_words.v1", ("size", "tolerance", "discard_oversize", "get_length"))
        )
        training["batcher"] = {"@batchers": name, **{key: batcher[key] for key in keys if key in batcher}}
    for block in ("before_update", "before_to_disk"):
        if (training.get(block) or {}).get("@callbacks", "").startswith("hamr."):
            training[block] = None
    return config


def variant_config(
    base: Config, name: str, batcher_extra: Optional[Dict] = None, callback_extra: Optional[Dict] = None
) -> Config:
    """A copy of `base` (loaded with interpolate=False) with variant `name`'s blocks. A base that
    has HAMR's blocks already lends their settings to the variants that use those blocks (its
    embedder, its meta_lr...), and the variants without them train as `plain_config(base)`."""
    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}; choose from {', '.join(VARIANTS)}.")
    variant = VARIANTS[name]
    config = plain_config(base)
    training, given = config["training"], base["training"]
    if variant.batcher or batcher_extra:
        training["batcher"] = {**given["batcher"], **variant.batcher, **(batcher_extra or {})}
    for block, blocks in (("before_update", variant.callback), ("before_to_disk", variant.before_to_disk)):
        if blocks is not None:
            own = given.get(block) or {}
            own = own if own.get("@callbacks") == blocks["@callbacks"] else {}
            training[block] = {**own, **blocks, **((callback_extra or {}) if block == "before_update" else {})}
    return config
