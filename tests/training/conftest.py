"""Fixtures of the training tests: slices of the real datasets, converted once per module."""

from pathlib import Path

import pytest

from spacy_hamr.experiments.convert import convert_dataset

from ..conftest import datasets_dir


def dataset_slice(tmp_path_factory, name: str, limit: int) -> Path:
    """The first `limit` records of each split of a real dataset, as .spacy files."""
    src = datasets_dir() / name
    if not src.exists():
        pytest.skip("real datasets not found")
    out = tmp_path_factory.mktemp(name)
    convert_dataset(src, out, limit=limit)
    return out


@pytest.fixture(scope="module")
def idai_slice(tmp_path_factory):
    return dataset_slice(tmp_path_factory, "cyclone_idai_2019", 300)


@pytest.fixture(scope="module")
def mit_slice(tmp_path_factory):
    return dataset_slice(tmp_path_factory, "mit_restaurant", 200)
