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
