"""The saved per-example state and the hard-example report: a planted label
error must come out among the hardest of its class, marked suspect."""

import random

import numpy
import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from thinc.api import Config

from spacy_hamr.corpus import read_docs
from spacy_hamr.label_errors.ranking import hardness_scores, is_suspect
from spacy_hamr.training.state_file import corpus_positions, fingerprint, read_state

from ..conftest import textcat_examples


def test_hardness_score_is_the_loss_relative_to_its_epoch_times_relative_hardness():
    nan = numpy.nan
    # Epoch means: 1.5 (rows 0 and 3) and 3.0 (rows 0, 2, 3); row 1 was never drawn.
    state = {
        "epoch_losses": numpy.array([[1.0, nan, nan, 2.0], [3.0, nan, 4.0, 2.0]], dtype="f"),
        "last_loss": numpy.array([3.0, 5.0, 4.0, 2.0]),
        "hardness": numpy.array([0.25, 0.25, 0.25, 0.25]),
    }
    expected = [(1 / 1.5 + 3 / 3) / 2, 5.0 / 3.5, 4 / 3, (2 / 1.5 + 2 / 3) / 2]
    assert numpy.allclose(hardness_scores(state), expected)
    state["hardness"] = numpy.array([0.5, 0.25, 0.125, 0.125])
    assert numpy.allclose(hardness_scores(state), numpy.array(expected) * [2.0, 1.0, 0.5, 0.5])


@pytest.mark.parametrize(
    "neighbours,agrees,suspect",
    [
        ([["rare"], ["rare"], ["big"]], False, True),
        ([["rare"], ["rare"], ["big"]], True, False),  # the model agrees with the gold label
        ([["big"], ["big", "rare"], ["rare"]], False, False),  # most neighbours share the gold label
        ([["rare"], ["big"]], False, False),  # a tie is no majority
        ([], False, False),
    ],
)
def test_suspect_needs_the_model_and_most_neighbours_against_the_label(neighbours, agrees, suspect):
    assert is_suspect("big", neighbours, agrees) is suspect


def test_state_rows_find_their_corpus_positions():
    docs = [eg.reference for eg in textcat_examples(30)]
    docs.append(docs[4].copy())  # an identical example twice
    order = list(range(len(docs)))
    random.Random(0).shuffle(order)
    keys = numpy.array([fingerprint(docs[i]) for i in order], dtype="uint64")
    positions = corpus_positions(keys, docs, "train.spacy")
    assert [docs[p].text for p in positions] == [docs[i].text for i in order]
    assert sorted(positions.tolist()) == list(range(len(docs)))
    relabelled = docs[7].copy()
    relabelled.cats = {label: 1.0 - score for label, score in relabelled.cats.items()}
    assert fingerprint(relabelled) != fingerprint(docs[7])
    with pytest.raises(ValueError, match="not in train.spacy: it was written for another training corpus"):
        corpus_positions(keys, docs[:10], "train.spacy")


PLANTED = 3
FLIP_RATE = 0.05


def flipped_corpus(path, n=240):
    """Generated 3-class texts with FLIP_RATE of them moved to another class in
    place (no correct twin stays): returns the flipped positions and true classes."""
    from spacy_hamr.experiments.planted_errors import flip_labels

    docs = [eg.reference for eg in textcat_examples(n, seed=0)]
    names = ["big", "mid", "rare"]
    clean = numpy.array([names.index(max(doc.cats, key=doc.cats.get)) for doc in docs])
    noisy = flip_labels(clean, len(names), "uniform", FLIP_RATE, seed=0)
    for doc, y in zip(docs, noisy):
        doc.cats = {name: float(j == y) for j, name in enumerate(names)}
    DocBin(docs=docs).to_disk(path)
    flipped = numpy.flatnonzero(noisy != clean)
    return {int(i): names[clean[i]] for i in flipped}


def train_with_state(folder, pipeline, dev_examples, epochs, record_only=False):
    """`spacy train` of a `spacy init config` pipeline with both HAMR blocks and
    state_path, on folder/train.spacy; writes folder/state.npz and folder/out.
    record_only: resample = false and weighting = "none" (spaCy's own shuffled,
    unweighted epochs; the blocks only record)."""
    from spacy_hamr.experiments.variants import variant_config

    from ..training.test_train_cli import init_config, train

    DocBin(docs=[eg.reference for eg in dev_examples]).to_disk(folder / "dev.spacy")
    cfg = init_config(folder, pipeline)
    batcher = {"state_path": str(folder / "state.npz"), **({"resample": False} if record_only else {})}
    variant_config(
        Config().from_disk(cfg, interpolate=False),
        "hamr",
        batcher_extra=batcher,
        callback_extra={"weighting": "none"} if record_only else None,
    ).to_disk(cfg)
    train(cfg, folder, folder / "out", "--training.max_epochs", str(epochs))


def hard_examples_command(tmp_path, top_k: int):
    """`spacy hamr hard-examples` on the run train_with_state left in tmp_path."""
    from spacy.cli import app
    from typer.testing import CliRunner

    from spacy_hamr.cli import hamr_cli  # noqa: F401 (registers the command)

    model, train, state = tmp_path / "out" / "model-last", tmp_path / "train.spacy", tmp_path / "state.npz"
    args = ["hamr", "hard-examples", str(model), str(train), str(state), "--output", str(tmp_path / "report")]
    return CliRunner().invoke(app, [*args, "--top-k", str(top_k)])


@pytest.mark.slow
def test_labels_flipped_in_place_rank_first_and_their_true_class_is_suggested(tmp_path):
    flipped = flipped_corpus(tmp_path / "train.spacy")
    train_with_state(tmp_path, "textcat", textcat_examples(40, seed=1), epochs=10, record_only=True)
    state = read_state(tmp_path / "state.npz")
    assert state["epoch_confidence"].shape == (10, 240) and not bool(state["resampled"])

    result = hard_examples_command(tmp_path, top_k=5)
    assert result.exit_code == 0, result.output
    assert "resample" not in result.output  # no warning: this run drew every example once per epoch
    summary = srsly.read_json(tmp_path / "report" / "summary.json")
    review = list(srsly.read_jsonl(tmp_path / "report" / "review.jsonl"))
    n = len(flipped)
    top = [task["meta"]["index"] for task in review[:n]]
    # Precision at N: random would be 0.05; the ranking reversed puts none of them first.
    assert sum(i in flipped for i in top) >= 0.8 * n, (top, sorted(flipped))
    right = [
        task["meta"]["suggested"] == flipped[task["meta"]["index"]]
        for task in review[:n]
        if task["meta"]["index"] in flipped
    ]
    assert sum(right) >= 0.8 * len(right)
    suspects = [task["meta"]["index"] for task in review if task["meta"]["suspect"]]
    assert suspects and sum(i in flipped for i in suspects) >= 0.9 * len(suspects)
    assert sum(summary["likely_errors_per_class"].values()) == summary["likely_errors"] >= 0.8 * n
    assert {row["to"] for row in summary["from_to"]} <= {"big", "mid", "rare"}
    records = list(srsly.read_jsonl(tmp_path / "report" / "hard_examples.jsonl"))
    assert {
        "index",
        "text",
        "gold",
        "predicted",
        "score",
        "confidence",
        "margin",
        "suggested",
        "likely_error",
        "suspect",
        "neighbours",
    } <= set(records[0])
    # The ranking itself: in every class that holds flips, the examples ranked first are flips.
    docs = read_docs(tmp_path / "train.spacy", spacy.blank("en").vocab)
    for label in ("big", "mid", "rare"):
        holds = sum(docs[i].cats[label] == 1.0 for i in flipped)
        first = [r["index"] for r in records if r["class"] == label][: min(holds, 5)]
        assert len(first) == min(holds, 5) and all(i in flipped for i in first), (label, first)
    page = (tmp_path / "report" / "hard_examples.html").read_text()
    assert f"About {summary['likely_errors']} likely label errors" in page


@pytest.mark.slow
def test_a_resampled_run_is_reported_with_a_warning(tmp_path):
    flipped_corpus(tmp_path / "train.spacy", n=120)
    train_with_state(tmp_path, "textcat", textcat_examples(30, seed=1), epochs=3)
    result = hard_examples_command(tmp_path, top_k=3)
    assert result.exit_code == 0, result.output
    assert "resampled (hamr.v1 resample = true)" in " ".join(result.output.split())
    summary = srsly.read_json(tmp_path / "report" / "summary.json")
    assert summary["resampled"] and summary["ranking"] == "training dynamics"


@pytest.mark.slow
def test_ner_entities_changed_in_place_are_found_as_typed_span_suspects(tmp_path):
    from spacy_hamr.cli import hard_examples
    from spacy_hamr.experiments.planted_errors import plant_ner_errors

    from ..conftest import ner_examples

    docs = [eg.reference for eg in ner_examples(200, seed=0)]
    noisy, planted = plant_ner_errors(docs, 0.05, seed=0)
    DocBin(docs=noisy).to_disk(tmp_path / "train.spacy")
    train_with_state(tmp_path, "ner", ner_examples(40, seed=1), epochs=6)
    report = hard_examples(
        tmp_path / "out" / "model-last", tmp_path / "train.spacy", tmp_path / "state.npz", tmp_path / "report", top_k=5
    )
    assert report.summary["ranking"] == "span suspects"
    n = len(planted)
    planted_in = {p.doc: p for p in planted}
    top = report.flagged[:n]
    # The model reads this corpus right but for the planted errors: they are the suspects.
    assert sum(f["index"] in planted_in for f in top) >= 0.8 * n, ([f["index"] for f in top], sorted(planted_in))
    assert len(report.flagged) <= 1.5 * n
    # The scores: the model's loss on the gold reading is high at a planted error, low elsewhere.
    planted_scores = [f["score"] for f in report.flagged if f["index"] in planted_in]
    assert numpy.median(planted_scores) > 1.0  # the gold reading gets under 37% of the model's belief
    from spacy_hamr.label_errors.span_suspects import gold_token_losses

    nlp = spacy.load(tmp_path / "out" / "model-last")
    clean = [i for i in range(len(noisy)) if i not in planted_in][:50]
    losses = gold_token_losses(nlp, [noisy[i] for i in clean], "ner")
    assert numpy.median([loss.max() for loss in losses]) < 0.1
    expected = {"type_swap": "wrong_type", "deletion": "missing", "boundary_shift": "boundary"}
    typed = [
        expected[planted_in[f["index"]].kind] in {s["kind"] for s in f["span_suspects"]}
        for f in top
        if f["index"] in planted_in
    ]
    assert sum(typed) >= 0.8 * len(typed)
    review = list(srsly.read_jsonl(tmp_path / "report" / "review.jsonl"))
    assert [t["meta"]["index"] for t in review] == [f["index"] for f in report.flagged]
    assert review[0]["spans"] == [
        {"start": e.start_char, "end": e.end_char, "token_start": e.start, "token_end": e.end - 1, "label": e.label_}
        for e in noisy[review[0]["meta"]["index"]].ents
    ]


@pytest.mark.parametrize("content", ["text", "pickle", "npy", "npz"])
def test_a_file_that_is_not_a_state_file_says_so(tmp_path, content):
    import pickle

    path = tmp_path / "state.npz"
    if content == "text":
        path.write_text("epoch,loss\n0,1.5\n")
    elif content == "pickle":
        path.write_bytes(pickle.dumps({"hardness": [1, 2]}))
    elif content == "npy":
        with path.open("wb") as file_:
            numpy.save(file_, numpy.zeros(3))
    else:
        numpy.savez(path, weights=numpy.zeros(3))
    with pytest.raises(ValueError, match=r"is not a HAMR state file .*state_path") as err:
        read_state(path)
    assert "allow_pickle" not in str(err.value)
