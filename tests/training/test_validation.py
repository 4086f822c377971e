"""Bad settings and files stop training before its first step, with a message
naming the setting or file at fault."""

import inspect
import re
from typing import get_args

import numpy
import pytest
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config_from_str, registry
from thinc.api import ConfigValidationError

from spacy_hamr.resampling.hardness import HARDNESS_RULES, HardnessName
from spacy_hamr.training.batcher import configure_hamr_batcher
from spacy_hamr.training.callback import make_hamr_callback

from ..conftest import textcat_examples

TRAINING = """
[training]
[training.batcher]
@batchers = "hamr.v1"
size = 100
{batcher}
[training.before_update]
@callbacks = "hamr.v1"
{callback}
"""


def resolve_training(batcher: str = "", callback: str = ""):
    """Resolve [training] the way spaCy does before it trains."""
    config = load_config_from_str(TRAINING.format(batcher=batcher, callback=callback))
    return registry.resolve(config["training"])


def numeric_settings(func):
    """The settings of `func` typed int or float (alone, optional or in a union)."""

    def numeric(annotation):
        return annotation in (int, float) or any(a in (int, float) for a in get_args(annotation))

    return [name for name, p in inspect.signature(func).parameters.items() if numeric(p.annotation)]


@pytest.mark.parametrize(
    "func,block,setting",
    [
        *[(configure_hamr_batcher, "training.batcher", s) for s in numeric_settings(configure_hamr_batcher)],
        *[(make_hamr_callback, "training.before_update", s) for s in numeric_settings(make_hamr_callback)],
    ],
)
def test_a_quoted_number_names_the_setting(func, block, setting):
    required = {"size": 100} if func is configure_hamr_batcher else {}
    with pytest.raises(ValueError, match=rf"\[{block}\] hamr.v1: {setting} must be a number, got the string '1'"):
        func(**{**required, setting: "1"})


def test_a_quoted_number_in_the_config_is_refused_before_training():
    """What `--training.batcher.alpha '"0.5"'` gives: confection passes the string on."""
    with pytest.raises(ValueError, match=r"alpha must be a number, got the string '0.5'"):
        resolve_training(batcher='alpha = "0.5"')
    with pytest.raises(ValueError, match=r"meta_every must be a number, got the string '4'"):
        resolve_training(callback='meta_every = "4"')


@pytest.mark.parametrize("setting", ["weighting", "hardness", "ner_loss"])
def test_a_bad_choice_gets_spacys_config_error(setting):
    # Only the setting and the value: the wording around them is pydantic's.
    with pytest.raises(ConfigValidationError, match=rf"{setting}[\s\S]*bogus"):
        resolve_training(callback=f'{setting} = "bogus"')


def test_hardness_choices_are_the_rules():
    assert set(get_args(HardnessName)) == set(HARDNESS_RULES)


@pytest.mark.parametrize("setting", ["log_path", "state_path"])
def test_output_file_that_is_a_directory_is_refused(tmp_path, setting):
    with pytest.raises(ValueError, match=rf"{setting} {re.escape(str(tmp_path))} is a directory"):
        resolve_training(batcher=f'{setting} = "{tmp_path}"')


@pytest.mark.parametrize("setting", ["log_path", "state_path"])
def test_output_file_whose_folder_cannot_be_made_is_refused(tmp_path, setting):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=rf"{setting} .*file.out cannot be written"):
        resolve_training(batcher=f'{setting} = "{tmp_path / "file" / "out"}"')


@pytest.mark.parametrize("setting", ["log_path", "state_path"])
def test_output_file_folder_is_made_when_training_starts_not_when_resolved(tmp_path, setting):
    batcher = resolve_training(batcher=f'{setting} = "{tmp_path / "logs" / "hamr.out"}"')["batcher"]
    assert not (tmp_path / "logs").exists()  # spaCy resolves [training] twice, and may not train
    next(iter(batcher(textcat_examples(10))))
    assert (tmp_path / "logs" / "hamr.out").is_file()


EMBEDDER = """
[training.batcher.embedder]
@misc = "{name}"
{settings}
"""


def test_sentence_embedder_without_its_model_folder_is_refused(tmp_path):
    pytest.importorskip("transformers")  # the [transformers] extra
    missing = tmp_path / "no-such-model"
    with pytest.raises(ValueError, match=rf"model: {re.escape(str(missing))} does not exist"):
        resolve_training(batcher=EMBEDDER.format(name="hamr.sentence_embedder.v1", settings=f'model = "{missing}"'))


def test_sentence_embedder_with_a_folder_that_is_no_model_is_refused(tmp_path):
    pytest.importorskip("transformers")  # the [transformers] extra
    with pytest.raises(ValueError, match=rf"model: {re.escape(str(tmp_path))} has no config.json"):
        resolve_training(batcher=EMBEDDER.format(name="hamr.sentence_embedder.v1", settings=f'model = "{tmp_path}"'))


@pytest.mark.parametrize("missing", ["path", "corpus"])
def test_npy_embedder_with_a_missing_file_is_refused(tmp_path, missing):
    files = {"path": tmp_path / "vec.npy", "corpus": tmp_path / "train.spacy"}
    numpy.save(files["path"], numpy.zeros((2, 2), dtype="float32"))
    DocBin(docs=[eg.reference for eg in textcat_examples(2)]).to_disk(files["corpus"])
    files[missing] = tmp_path / "absent"
    settings = "\n".join(f'{name} = "{file}"' for name, file in files.items())
    with pytest.raises(ValueError, match=rf"npy_embedder.v1\] {missing}: .*absent does not exist"):
        resolve_training(batcher=EMBEDDER.format(name="hamr.npy_embedder.v1", settings=settings))


PIPELINE = """
[paths]
train = null
embeddings = null

[nlp]
lang = "en"
pipeline = ["textcat"]

[components]

[components.textcat]
factory = "textcat"

[components.textcat.model]
@architectures = "spacy.TextCatBOW.v3"
exclusive_classes = true
ngram_size = 1
no_output_layer = false

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[training]
max_epochs = 1

[training.batcher]
@batchers = "hamr.v1"
size = 100

[training.batcher.embedder]
@misc = "hamr.npy_embedder.v1"
path = ${paths.embeddings}
corpus = ${paths.train}
"""


def test_npy_row_count_stops_a_one_epoch_run_before_its_first_update(tmp_path, monkeypatch):
    """The embedder runs at the first boost, after epoch 0: a one-epoch run never gets there."""
    DocBin(docs=[eg.reference for eg in textcat_examples(10)]).to_disk(tmp_path / "train.spacy")
    numpy.save(tmp_path / "vec.npy", numpy.zeros((9, 2), dtype="float32"))
    config = load_config_from_str(
        PIPELINE,
        overrides={"paths.train": str(tmp_path / "train.spacy"), "paths.embeddings": str(tmp_path / "vec.npy")},
    )
    nlp = init_nlp(Language.default_config.merge(config))

    def no_update(*args, **kwargs):
        raise AssertionError("trained a step with embeddings that do not match the corpus")

    monkeypatch.setattr(Language, "update", no_update)
    with pytest.raises(ValueError, match=r"vec.npy has shape \(9, 2\).*holds 10 docs"):
        train(nlp)
