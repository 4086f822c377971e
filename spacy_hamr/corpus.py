"""Reading corpora: a `.spacy` file as Docs, the corpus a setting names as
Examples, and the checks that a path is a corpus before training starts."""

import warnings
from pathlib import Path
from typing import List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus, Example
from spacy.training.corpus import walk_corpus
from spacy.util import resolve_dot_names
from spacy.vocab import Vocab


def read_docs(path: Union[str, Path], vocab: Vocab) -> List[Doc]:
    """The docs of a `.spacy` file (a DocBin), their strings in `vocab`."""
    return list(DocBin().from_disk(path).get_docs(vocab))


def check_corpus_path(setting: str, path: Optional[Path]) -> List[str]:
    """Problems that keep spaCy's Corpus from reading `path` (a .spacy file, or a
    folder holding some), naming `setting`; none where no path is set. A missing
    corpus would otherwise show only when it is first read, after training starts."""
    if path is None:
        return []
    path = Path(path)
    if not path.exists():
        return [f"{setting} {path} does not exist"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spaCy's W090, which the problem says with the setting
        found = walk_corpus(path, ".spacy")
    if not found:
        return [f"{setting} {path} is not a .spacy corpus (a .spacy file, or a folder holding some)"]
    return []


def read_examples(nlp: Language, path: Optional[Path], corpus_setting: str) -> Tuple[List[Example], str]:
    """(examples, where they come from): the .spacy file `path` if given, else the
    corpus that [training] `corpus_setting` ("dev_corpus", "train_corpus") names."""
    if path is not None:
        return list(Corpus(path)(nlp)), str(path)
    config = nlp.config.interpolate()
    dot_name = config["training"][corpus_setting]
    (corpus,) = resolve_dot_names(config, [dot_name])
    return list(corpus(nlp)), f"[{dot_name}]"
