"""Every run of the comparison is a config edit that resolves."""

import pytest
from spacy.util import registry
from thinc.api import Config

from spacy_hamr.experiments.variants import VARIANTS, variant_config

from ..conftest import ROOT

BASE = ROOT / "project" / "configs" / "textcat_cnn.cfg"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_changes_only_the_two_blocks_and_resolves(name):
    base = Config().from_disk(BASE, interpolate=False)
    config = variant_config(base, name)
    for section in config:
        if section != "training":
            assert config[section] == base[section]
    for key in config["training"]:
        if key not in ("batcher", "before_update", "before_to_disk"):
            assert config["training"][key] == base["training"][key]
    blocks = {
        "batcher": config["training"]["batcher"],
        "callback": config["training"]["before_update"],
        "on_save": config["training"]["before_to_disk"],
    }
    resolved = registry.resolve(Config(blocks))
    assert callable(resolved["batcher"])
    assert (resolved["callback"] is None) == (VARIANTS[name].callback is None)
    assert (resolved["on_save"] is None) == (VARIANTS[name].before_to_disk is None)


def test_unknown_variant_is_named():
    with pytest.raises(ValueError, match="Unknown variant 'focal'"):
        variant_config(Config().from_disk(BASE, interpolate=False), "focal")


def hamr_base(padded: bool) -> Config:
    """The project's config as a user's HAMR config: both blocks, with settings of its own."""
    base = Config().from_disk(BASE, interpolate=False)
    base["training"]["batcher"] = {
        **base["training"]["batcher"],
        "@batchers": "hamr.v1",
        "alpha": 0.5,
        "n_neighbors": 5,
        **({"buffer": 128} if padded else {}),
    }
    base["training"]["before_update"] = {"@callbacks": "hamr.v1", "meta_lr": 0.003}
    base["training"]["before_to_disk"] = {"@callbacks": "hamr.logit_adjustment.v1"}
    return base


@pytest.mark.parametrize("padded", [False, True], ids=["by_words", "padded"])
def test_a_hamr_config_lends_its_settings_and_its_plain_arms_are_plain(padded):
    base = hamr_base(padded)
    plain = variant_config(base, "baseline")["training"]
    sizes = {key: value for key, value in base["training"]["batcher"].items() if key in ("size", "discard_oversize")}
    expected = "spacy.batch_by_padded.v1" if padded else "spacy.batch_by_words.v1"
    assert plain["batcher"] == {
        "@batchers": expected,
        **sizes,
        **({"buffer": 128} if padded else {"tolerance": 0.2}),
        "get_length": None,
    }
    assert plain["before_update"] is None and plain["before_to_disk"] is None
    assert callable(registry.resolve(Config({"batcher": plain["batcher"]}))["batcher"])
    hamr = variant_config(base, "hamr")["training"]
    assert hamr["batcher"] == base["training"]["batcher"] and hamr["before_update"] == base["training"]["before_update"]
    assert hamr["before_to_disk"] is None  # the hamr arm does not adjust; hamr_adjusted does
    assert variant_config(base, "hamr_adjusted")["training"]["before_to_disk"] == base["training"]["before_to_disk"]
    oversample = variant_config(base, "oversample")["training"]
    assert oversample["batcher"]["n_neighbors"] == 5 and oversample["batcher"]["alpha"] == 0.0
    assert oversample["before_update"] is None
    no_meta = variant_config(base, "hamr_no_meta")["training"]["before_update"]
    assert no_meta == {"@callbacks": "hamr.v1", "meta_lr": 0.003, "weighting": "none"}


def test_a_plain_config_gets_each_variant_as_before():
    """A plain base's variants are its blocks with the variant's keys set over them."""
    base = Config().from_disk(BASE, interpolate=False)
    config = variant_config(base, "hamr_no_meta")["training"]
    assert config["batcher"] == {**base["training"]["batcher"], "@batchers": "hamr.v1"}
    assert config["before_update"] == {"@callbacks": "hamr.v1", "weighting": "none"}
    assert variant_config(base, "baseline").to_str() == base.to_str()
