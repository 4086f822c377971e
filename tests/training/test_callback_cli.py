"""Full HAMR (batcher + callback) through `spacy train` on configs made by
`spacy init config`, and the trained pipelines loaded by spaCy alone."""

import json
import math
import re
import subprocess
import sys

import numpy
import pytest
import srsly
from thinc.api import Config

from spacy_hamr.corpus import read_docs
from spacy_hamr.experiments.variants import variant_config

from .test_train_cli import init_config, train

pytestmark = pytest.mark.slow

# Loads a pipeline with spacy_hamr made unimportable, and prints its predictions.
PLAIN_LOAD = """
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "spacy_hamr":
            raise ImportError("spacy_hamr is blocked in this process")
sys.meta_path.insert(0, Block())
import spacy
nlp = spacy.load(sys.argv[1])
texts = json.loads(sys.argv[2])
print(json.dumps([[doc.cats, [(e.start, e.end, e.label_) for e in doc.ents]] for doc in nlp.pipe(texts)]))
"""


def switch_on_hamr(path, score_weights=None):
    """The two-block edit of the README, nothing else (plus score weights, if given)."""
    config = variant_config(Config().from_disk(path, interpolate=False), "hamr")
    if score_weights:
        config["training"]["score_weights"] = score_weights
    config.to_disk(path)


def predictions(model_dir, texts, plain):
    if plain:
        out = subprocess.run(
            [sys.executable, "-c", PLAIN_LOAD, str(model_dir), json.dumps(texts)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])
    import spacy

    nlp = spacy.load(model_dir)
    return json.loads(json.dumps([[d.cats, [(e.start, e.end, e.label_) for e in d.ents]] for d in nlp.pipe(texts)]))


def hamr_references(value, where=""):
    """The places in a config section that name HAMR: a registered function
    (`@...` = "hamr....") or the spacy_hamr module. Only these: a model's name
    is a path, which may well contain "hamr" (a checkout in spacy-hamr/)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).startswith("@") and isinstance(item, str) and item.startswith("hamr."):
                found.append(f"{where}.{key} = {item!r}")
            found += hamr_references(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found += hamr_references(item, f"{where}[{i}]")
    elif isinstance(value, str) and re.match(r"spacy_hamr([.:]|$)", value):
        found.append(f"{where} = {value!r}")
    return found


def naming_hamr(config: Config):
    """What names HAMR in a saved pipeline's config, outside [training] (which
    spacy.load does not resolve)."""
    return [
        found
        for section, value in config.items()
        if section != "training"
        for found in hamr_references(value, f"[{section}]")
    ]


def test_a_saved_config_names_hamr_by_registry_names_and_the_module_not_by_paths():
    assert hamr_references({"batcher": {"@batchers": "hamr.v1", "size": 1000}}, "[training]") == [
        "[training].batcher.@batchers = 'hamr.v1'"
    ]
    assert hamr_references(
        {"log": {"@loggers": "hamr.eval_log.v1"}, "x": ["a", "spacy_hamr.meta_weighting.loss_adapters:f"]}
    ) == [".log.@loggers = 'hamr.eval_log.v1'", ".x[1] = 'spacy_hamr.meta_weighting.loss_adapters:f'"]
    saved = {
        "training": {"batcher": {"@batchers": "hamr.v1"}},
        "components": {
            "transformer": {
                "model": {
                    "@architectures": "spacy-transformers.TransformerModel.v3",
                    "name": "/home/me/spacy-hamr/spacy_hamr/hamr_minilm",
                }
            }
        },
    }
    assert naming_hamr(Config(saved)) == []  # [training] is HAMR's; a path is no reference
    saved["nlp"] = {"batcher": {"@batchers": "hamr.v1"}}
    assert naming_hamr(Config(saved)) == ["[nlp].batcher.@batchers = 'hamr.v1'"]


def assert_plain_spacy(model_dir, texts):
    config = Config().from_disk(model_dir / "config.cfg", interpolate=False)
    assert not naming_hamr(config), "the saved pipeline names HAMR"
    assert predictions(model_dir, texts, plain=True) == predictions(model_dir, texts, plain=False)


def train_with_meta_steps(cfg, data, output, epochs, *overrides):
    """`spacy train` of a HAMR config for `epochs` epochs, checking from the
    batcher's JSONL log (log_path) that every epoch ran meta steps (its record
    counts them and has their mean meta loss and hypergradient RMS) and that
    none was skipped.
    Returns the log and the epochs' records."""
    log_path = output.parent / f"{output.name}_hamr.jsonl"
    log = train(
        cfg,
        data,
        output,
        "--training.max_epochs",
        str(epochs),
        "--training.batcher.log_path",
        str(log_path),
        *overrides,
    )
    records = list(srsly.read_jsonl(log_path))
    assert [record["epoch"] for record in records] == list(range(epochs))
    idle = [record["epoch"] for record in records if not math.isfinite(record.get("meta_loss", math.nan))]
    assert not idle, f"no meta step ran in epochs {idle}"
    assert all(record["meta_steps"] > 0 and record["meta_skipped"] == 0 for record in records), records
    assert all(record["hypergrad_rms"] > 0 for record in records), records
    return log, records


def test_textcat_full_hamr_ships_plain_spacy(tmp_path, idai_slice):
    cfg = init_config(tmp_path, "textcat")
    switch_on_hamr(cfg)
    log, records = train_with_meta_steps(cfg, idai_slice, tmp_path / "out", 2, "--training.accumulate_gradient", "2")
    epoch_lines = [line for line in log.splitlines() if line.startswith("[hamr] epoch")]
    assert len(epoch_lines) == 2 and all("weight mean" in line and "meta loss" in line for line in epoch_lines)
    assert all("weight_mean" in record for record in records)
    texts = ["Please send food and water to Chimanimani", "Prayers for Mozambique", "Roads are cut off"]
    for model in ("model-best", "model-last"):
        assert_plain_spacy(tmp_path / "out" / model, texts)


def test_ner_full_hamr_with_macro_f_selection(tmp_path, mit_slice):
    cfg = init_config(tmp_path, "ner")
    switch_on_hamr(cfg, {"ents_f": 0.0, "ents_p": 0.0, "ents_r": 0.0, "ents_macro_f": 1.0})
    log, _ = train_with_meta_steps(cfg, mit_slice, tmp_path / "out", 1)
    assert "ENTS_MACRO_F" in log.upper() and "weight mean" in log
    assert_plain_spacy(
        tmp_path / "out" / "model-best", ["cheap italian food near downtown", "any thai places open now"]
    )


def test_same_seed_same_model_bit_for_bit(tmp_path, idai_slice):
    cfg = init_config(tmp_path, "textcat")
    switch_on_hamr(cfg)
    models = []
    for name in ("a", "b"):
        train(cfg, idai_slice, tmp_path / name, "--training.max_epochs", "1")
        models.append((tmp_path / name / "model-last" / "textcat" / "model").read_bytes())
    assert models[0] == models[1]


@pytest.fixture(scope="module")
def idai_tiny(tmp_path_factory):
    from .conftest import dataset_slice

    return dataset_slice(tmp_path_factory, "cyclone_idai_2019", 40)


def test_transformer_textcat_with_hamr(tmp_path, idai_tiny):
    """The project's transformer config (`spacy init config -G`, offline MiniLM) with the two blocks:
    the look-ahead covers the transformer's torch weights, and the result loads without HAMR."""
    from spacy_hamr.resampling.embedders import default_model_path

    from ..conftest import ROOT

    cfg = tmp_path / "trf.cfg"
    cfg.write_text((ROOT / "project" / "configs" / "textcat_trf.cfg").read_text())
    switch_on_hamr(cfg)
    train_with_meta_steps(
        cfg, idai_tiny, tmp_path / "out", 1, "--components.transformer.model.name", default_model_path()
    )
    assert_plain_spacy(tmp_path / "out" / "model-last", ["Roads are cut off in Beira"])
    import spacy

    from spacy_hamr.meta_weighting.lookahead import TrainableParams

    params = TrainableParams.of_pipeline(spacy.load(tmp_path / "out" / "model-last"), exclude=[])
    assert sum(t.numel() for t in params.torch) > 20_000_000  # all-MiniLM-L6-v2's 22.7M weights


@pytest.fixture(scope="module")
def sourced_ner(tmp_path_factory, mit_slice):
    """A plain ner pipeline (tok2vec + ner) trained on a slice of mit_restaurant."""
    work = tmp_path_factory.mktemp("sourced_ner")
    train(init_config(work, "ner"), mit_slice, work / "out", "--training.max_epochs", "3")
    return work / "out" / "model-last"


@pytest.fixture(scope="module")
def idai_no_entities(tmp_path_factory, idai_slice):
    """The idai slice with every token annotated as outside an entity, so that
    a ner that is not frozen would learn from it (and move)."""
    import spacy
    from spacy.tokens import DocBin

    out = tmp_path_factory.mktemp("idai_no_entities")
    vocab = spacy.blank("en").vocab
    for split in ("train", "dev"):
        docs = read_docs(idai_slice / f"{split}.spacy", vocab)
        for doc in docs:
            doc.set_ents([], default="outside")
        DocBin(docs=docs, store_user_data=True).to_disk(out / f"{split}.spacy")
    return out


@pytest.mark.parametrize("annotating", [["tok2vec", "ner"], []])
def test_frozen_sourced_components_are_left_alone(tmp_path, idai_no_entities, sourced_ner, annotating):
    """spaCy's pattern of a sourced, frozen (and annotating) tok2vec + ner beside a
    new textcat: HAMR weights the textcat, and neither the look-ahead's
    perturbations nor the updates move the frozen components."""
    cfg = init_config(tmp_path, "textcat")
    config = Config().from_disk(cfg, interpolate=False)
    config["nlp"]["pipeline"] = ["tok2vec", "ner", "textcat"]
    for name in ("tok2vec", "ner"):
        config["components"][name] = {"source": str(sourced_ner)}
    config["training"]["frozen_components"] = ["tok2vec", "ner"]
    config["training"]["annotating_components"] = annotating
    config.to_disk(cfg)
    switch_on_hamr(cfg)
    log, _ = train_with_meta_steps(cfg, idai_no_entities, tmp_path / "out", 1)
    assert "unweighted" not in log  # frozen components are not named
    import spacy

    trained, source = spacy.load(tmp_path / "out" / "model-last"), spacy.load(sourced_ner)
    for name in ("tok2vec", "ner"):
        # Parameters, not bytes: spaCy itself rewrites a frozen parser's dropout attr.
        for a, b in zip(trained.get_pipe(name).model.walk(), source.get_pipe(name).model.walk()):
            for param in a.param_names:
                if a.has_param(param):
                    assert numpy.array_equal(a.get_param(param), b.get_param(param)), f"frozen {name} moved"
