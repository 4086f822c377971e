"""HAMR gives the same bits at any thread count: its SVD and weight net, and
whole `spacy train` runs at 1 and 2 threads (`pinned_environment`)."""

import hashlib
import random

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import Config
from threadpoolctl import threadpool_limits

from spacy_hamr.experiments.variants import variant_config
from spacy_hamr.meta_weighting.weight_net import WeightNet, make_optimizer, meta_step
from spacy_hamr.resampling.embedders import make_tfidf_embedder
from spacy_hamr.threads import one_thread, pinned_environment, thread_counts

from .conftest import generated_corpus
from .training.test_train_cli import init_config, train_result


def at_threads(count, compute):
    """compute() with torch, BLAS and OpenMP at `count` threads, as OMP_NUM_THREADS sets them."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(limits=count):
            return compute()
    finally:
        torch.set_num_threads(previous)


def wordy_examples(n: int = 3000, vocabulary: int = 3000):
    """Tweet-length texts over a Zipf-like vocabulary: enough for OpenBLAS to split the SVD's work."""
    nlp = spacy.blank("en")
    rng = random.Random(0)
    words = [f"w{i}" for i in range(vocabulary)]
    weights = [1 / (rank + 1) for rank in range(vocabulary)]
    texts = [" ".join(rng.choices(words, weights=weights, k=rng.randint(8, 30))) for _ in range(n)]
    return [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts]


@pytest.mark.slow  # an SVD large enough to be split across threads
def test_tfidf_embedding_is_bit_identical_at_one_and_two_threads():
    examples = wordy_examples()
    embed = make_tfidf_embedder()
    one, two = at_threads(1, lambda: embed(examples)), at_threads(2, lambda: embed(examples))
    assert one.shape == (len(examples), 128)
    assert one.tobytes() == two.tobytes()


def test_meta_step_of_256_is_bit_identical_at_one_and_two_threads():
    rng = numpy.random.default_rng(0)
    losses, hypergrads = rng.random(256) * 3, [rng.standard_normal(256) * 1e-5 for _ in range(5)]

    def train_net():
        net = WeightNet(0)
        optimizer = make_optimizer(net, 1e-4)
        for hypergrad in hypergrads:
            _, weights = meta_step(net, optimizer, losses, hypergrad)
        return weights.tobytes() + b"".join(p.detach().numpy().tobytes() for p in net.parameters())

    assert at_threads(1, train_net) == at_threads(2, train_net)


def test_one_thread_restores_the_thread_counts():
    before = at_threads(2, thread_counts)
    assert before["torch"] == 2

    def inside_and_after():
        with one_thread():
            inside = thread_counts()
        return inside, thread_counts()

    inside, after = at_threads(2, inside_and_after)
    assert set(inside.values()) == {1}
    assert after == before


def model_digest(model_dir) -> str:
    """One hash over every file of a saved pipeline (meta.json holds timings: left out)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name != "meta.json"):
        digest.update(str(path.relative_to(model_dir)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("task", ["textcat", "ner"])
def test_hamr_trains_the_same_model_at_one_and_two_threads(tmp_path, task):
    corpus = generated_corpus(tmp_path / "corpus", task, n_train=300, n_dev=30)
    config_path = init_config(tmp_path, task)
    config = variant_config(Config().from_disk(config_path, interpolate=False), "hamr")
    # Batches of a few hundred examples, a meta step at each: the weight net's sums
    # are split by thread from about 128 examples on.
    config["training"]["batcher"]["size"] = 2000
    config["training"]["before_update"].update({"lookahead_size": 256, "meta_every": 1})
    config["training"].update({"max_epochs": 2, "max_steps": 0, "eval_frequency": 5})
    config.to_disk(config_path)
    digests = {}
    for threads in (1, 2):
        out = tmp_path / f"out{threads}"
        env = pinned_environment(threads)
        result = train_result(config_path, corpus, "--output", out, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"[hamr] Threads: torch {threads}" in result.stdout
        digests[threads] = model_digest(out / "model-last")
    assert digests[1] == digests[2]


def test_pinned_environment_sets_every_pool(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    env = pinned_environment(1)
    assert {env[name] for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")} == {"1"}
    assert pinned_environment(None)["OMP_NUM_THREADS"] == "8"
