"""Every use of spaCy's and thinc's private API, in one place. Each was checked
against spaCy 3.8.18 and thinc 8.3.14, where no public call does the same;
tests/test_private_api.py fails loudly if one of them changes."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from spacy.language import Language
from spacy.pipeline import TextCategorizer
from spacy.training import Example


def examples_to_truth(pipe: TextCategorizer, examples: Sequence[Example]) -> Tuple[Any, Any]:
    """(truths, not_missing), the gold arrays a textcat's own `get_loss` compares
    its scores with (`TextCategorizer._examples_to_truth`), on the model's device."""
    return pipe._examples_to_truth(examples)


def replace_component(nlp: Language, name: str, component: Any) -> None:
    """Put `component` in the pipeline in place of the one called `name`.
    `Language.replace_pipe` builds a new component from a factory; none takes an
    instance, so this edits `Language._components`, the (name, component) list."""
    names = [n for n, _ in nlp._components]
    nlp._components[names.index(name)] = (name, component)


def torch_module(shim: Any) -> Optional[torch.nn.Module]:
    """The torch module of a thinc PyTorchShim (kept in `shim._model`, no
    accessor), or None for other shims."""
    module = getattr(shim, "_model", None)
    return module if isinstance(module, torch.nn.Module) else None


def config_overrides(args: List[str]) -> Dict[str, Any]:
    """Extra command-line options (`--paths.dev dev.spacy`) as config overrides,
    parsed as `spacy train` parses them (`spacy.cli._util.parse_config_overrides`)."""
    from spacy.cli._util import parse_config_overrides

    return parse_config_overrides(args)


def batch_by_length(seqs: Sequence[Any], max_words: int, get_length: Callable[[Any], int]) -> List[List[int]]:
    """Indices of `seqs` in batches of at most `max_words` padded tokens, binned by
    length, longest first (`spacy.training.batchers._batch_by_length`, the packing
    of `batch_by_padded.v1`)."""
    from spacy.training.batchers import _batch_by_length

    return _batch_by_length(seqs, max_words, get_length)
