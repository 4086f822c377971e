"""Label errors from the training dynamics: what the textcat adapter records at
each visit, what the state keeps of it, the ranking, estimate and tiers built
on it, the planted errors the benchmark and tests use, and the Prodigy tasks."""

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span

from spacy_hamr.experiments.planted_errors import NER_KINDS, flip_labels, plant_ner_errors
from spacy_hamr.label_errors.prodigy import ner_task, review_command, textcat_task
from spacy_hamr.label_errors.span_suspects import Suspect, doc_suspects, sentence_scores
from spacy_hamr.label_errors.training_dynamics import from_to_table, gold_indices, per_class_estimate, textcat_errors
from spacy_hamr.meta_weighting.loss_adapters import Visit, gold_confidence
from spacy_hamr.training.shared_state import HamrState
from spacy_hamr.training.state_file import read_state, write_state

from ..conftest import ner_examples, textcat_examples


def test_gold_confidence_of_exclusive_classes():
    truths = numpy.array([[1, 0, 0], [0, 0, 1], [0, 0, 0]], dtype="f")
    scores = numpy.array([[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.4, 0.3, 0.3]], dtype="f")
    confidence, margin = gold_confidence(truths, numpy.ones_like(truths), scores, exclusive=True)
    numpy.testing.assert_allclose(confidence[:2], [0.7, 0.2], rtol=1e-6)
    numpy.testing.assert_allclose(margin[:2], [0.5, -0.3], rtol=1e-5)
    assert numpy.isnan(confidence[2]) and numpy.isnan(margin[2])  # no gold category


def test_gold_confidence_of_multilabel_takes_the_least_confident_annotated_label():
    truths = numpy.array([[1, 0, 1]], dtype="f")
    mask = numpy.array([[1, 1, 0]], dtype="f")  # the third label is not annotated
    scores = numpy.array([[0.9, 0.4, 0.01]], dtype="f")
    confidence, margin = gold_confidence(truths, mask, scores, exclusive=False)
    numpy.testing.assert_allclose(confidence, [0.6], rtol=1e-6)  # 1 - 0.4 for the "no" of label 2
    numpy.testing.assert_allclose(margin, [0.2], rtol=1e-5)


def visit(confidence, margin, scores):
    return Visit(
        numpy.ones(len(confidence)),
        numpy.array(confidence, dtype="f8"),
        numpy.array(margin, dtype="f8"),
        numpy.array(scores, dtype="f"),
        ("big", "mid", "rare"),
    )


def test_state_keeps_per_epoch_means_and_mean_scores(tmp_path):
    state = HamrState()
    state.bind(textcat_examples(3))
    labels = ["big", "mid", "rare"]
    # Epoch 0: example 0 twice (0.2, then 0.4), example 1 once, example 2 never.
    state.record_visits(numpy.array([0, 1]), visit([0.2, 0.9], [-0.1, 0.8], [[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]]))
    state.record_visits(numpy.array([0]), visit([0.4], [0.1], [[0.4, 0.3, 0.3]]))
    state.close_epoch()
    state.record_visits(numpy.array([2]), visit([0.6], [0.3], [[0.1, 0.3, 0.6]]))
    state.close_epoch()
    numpy.testing.assert_allclose(state.epoch_confidence[0], [0.3, 0.9, numpy.nan])
    numpy.testing.assert_allclose(state.epoch_margin[1], [numpy.nan, numpy.nan, 0.3])
    write_state(tmp_path / "state.npz", state, resampled=False)
    saved = read_state(tmp_path / "state.npz")
    assert saved["epoch_confidence"].shape == saved["epoch_margin"].shape == (2, 3)
    numpy.testing.assert_allclose(saved["score_mean"][0], [0.3, 0.4, 0.3], rtol=1e-6)
    assert list(saved["score_labels"]) == labels and not bool(saved["resampled"])


def dynamics_state(confidence, margin, score_mean):
    return {
        "epoch_confidence": numpy.array(confidence, dtype="f4"),
        "epoch_margin": numpy.array(margin, dtype="f4"),
        "score_mean": numpy.array(score_mean, dtype="f4"),
        "score_labels": numpy.array(["a", "b", "c"]),
    }


def test_ranking_estimate_and_tiers():
    # Rows: believed (0.9), doubtful (0.4), a likely error (0.4, margin < 0), a suspect (0.05 < 1/3), never drawn.
    nan = numpy.nan
    state = dynamics_state(
        confidence=[[0.8, 0.5, 0.5, 0.05, nan], [1.0, 0.3, 0.3, 0.3, nan]],
        margin=[[0.7, 0.1, -0.2, -0.9, nan], [0.9, 0.1, -0.4, -0.9, nan]],
        score_mean=[[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.2, 0.1, 0.7], [0.05, 0.9, 0.05], [nan, nan, nan]],
    )
    gold = numpy.array([0, 0, 0, 0, 1])
    errors = textcat_errors(state, gold)
    numpy.testing.assert_allclose(errors.confidence[:4], [0.9, 0.4, 0.4, 0.175], rtol=1e-6)
    assert numpy.argsort(-errors.score, kind="stable").tolist() == [3, 1, 2, 0, 4]
    assert errors.score[4] == 0.0  # never drawn: not ranked as an error
    assert errors.likely.tolist() == [False, False, True, True, False]
    assert errors.suspect.tolist() == [False, False, False, True, False]  # below chance, 1/3
    assert [errors.labels[j] for j in errors.suggested[:4]] == ["b", "b", "c", "b"]
    assert per_class_estimate(errors, gold) == {"a": 2, "b": 0, "c": 0}
    assert from_to_table(errors, gold) == [{"from": "a", "to": "b", "count": 1}, {"from": "a", "to": "c", "count": 1}]


def test_a_corpus_label_the_model_did_not_score_is_named():
    with pytest.raises(ValueError, match=r"\(zebra\)"):
        gold_indices(["a", "zebra"], ["a", "b"])


@pytest.mark.parametrize("noise", ["uniform", "pair"])
def test_flips_move_the_chosen_share_to_other_classes(noise):
    labels = numpy.random.default_rng(0).integers(0, 4, size=1000)
    noisy = flip_labels(labels, 4, noise, 0.03, seed=7)
    assert (noisy != labels).sum() == 30
    assert numpy.array_equal(noisy, flip_labels(labels, 4, noise, 0.03, seed=7))
    assert not numpy.array_equal(noisy, flip_labels(labels, 4, noise, 0.03, seed=8))
    if noise == "pair":  # one target class per source class, never itself
        moved = noisy != labels
        targets = {int(y): {int(t) for t in noisy[moved & (labels == y)]} for y in numpy.unique(labels[moved])}
        assert all(len(t) == 1 and y not in t for y, t in targets.items())
    with pytest.raises(ValueError, match="noise"):
        flip_labels(labels, 4, "asymmetric", 0.03, seed=0)


def test_planted_ner_errors_change_entities_in_place():
    docs = [eg.reference for eg in ner_examples(200, seed=0)]
    noisy, planted = plant_ner_errors(docs, 0.1, seed=3)
    n_entities = sum(len(doc.ents) for doc in docs)
    assert len(planted) == round(0.1 * n_entities) and len(noisy) == len(docs)
    kinds = {p.kind for p in planted}
    assert kinds == set(NER_KINDS)
    for p in planted:
        now = {(e.start, e.end, e.label_) for e in noisy[p.doc].ents}
        assert p.original not in now and p.original in {(e.start, e.end, e.label_) for e in docs[p.doc].ents}
        assert (p.planted is None) == (p.kind == "deletion")
        if p.planted is not None:
            assert p.planted in now and p.planted != p.original
        if p.kind == "type_swap":
            assert p.planted[:2] == p.original[:2] and p.planted[2] != p.original[2]
        if p.kind == "boundary_shift":
            assert (
                p.planted[2] == p.original[2]
                and abs(p.planted[1] - p.planted[0] - (p.original[1] - p.original[0])) == 1
            )
    unchanged = set(range(len(docs))) - {p.doc for p in planted}
    assert all([e.label_ for e in noisy[i].ents] == [e.label_ for e in docs[i].ents] for i in unchanged)


def test_prodigy_tasks():
    nlp = spacy.blank("en")
    doc = nlp.make_doc("Anna flew to Paris")
    doc.ents = [Span(doc, 0, 1, label="PER"), Span(doc, 3, 4, label="LOC")]
    task = ner_task(doc, {"score": 0.9})
    assert [t["text"] for t in task["tokens"]] == ["Anna", "flew", "to", "Paris"]
    assert task["spans"][1] == {"start": 13, "end": 18, "token_start": 3, "token_end": 3, "label": "LOC"}
    assert all(
        task["text"][s["start"] : s["end"]] == doc[s["token_start"] : s["token_end"] + 1].text for s in task["spans"]
    )
    cat_doc: Doc = nlp.make_doc("so windy")
    task = textcat_task(cat_doc, ["big", "rare"], ["big"], {"suggested": "rare"})
    assert task["accept"] == ["big"] and [o["id"] for o in task["options"]] == ["big", "rare"]
    assert review_command(True, "r.jsonl", ["big", "rare"]) == (
        "prodigy textcat.manual fixed_labels r.jsonl --label big,rare --exclusive"
    )
    assert review_command(False, "r.jsonl", ["LOC", "PER"]).startswith("prodigy ner.manual fixed_labels blank:en")


def test_span_suspects_are_typed_and_scored_by_the_gold_readings_loss():
    gold = [(0, 2, "PER"), (3, 4, "LOC"), (5, 6, "ORG"), (8, 9, "PER")]
    predicted = [(0, 2, "PER"), (3, 4, "ORG"), (5, 7, "ORG"), (7, 8, "LOC")]
    losses = numpy.array([0.1, 0.1, 0.0, 2.0, 0.0, 0.5, 3.0, 1.0, 0.7])
    suspects = doc_suspects(4, gold, predicted, losses)
    # Exactly one suspect per disagreement, scored at its worst token; (0, 2, PER) agrees: none.
    expected = [
        Suspect(4, "wrong_type", (3, 4, "LOC"), (3, 4, "ORG"), 2.0),
        Suspect(4, "boundary", (5, 6, "ORG"), (5, 7, "ORG"), 3.0),
        Suspect(4, "missing", None, (7, 8, "LOC"), 1.0),
        Suspect(4, "spurious", (8, 9, "PER"), None, 0.7),
    ]
    assert len(suspects) == len(expected) and set(suspects) == set(expected)
    assert sentence_scores(6, suspects).tolist() == [0, 0, 0, 0, 3.0, 0]
