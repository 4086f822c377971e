"""The saved per-example state and the hard-example report: a planted label
error must come out among the hardest of its class, marked suspect."""
import random

import numpy
import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from thinc.api import Config

from spacy_hamr.hard_examples import hardness_scores, is_suspect
from spacy_hamr.state_file import corpus_positions, fingerprint, read_state

from .conftest import textcat_examples


def test_hardness_score_is_the_loss_relative_to_its_epoch_times_relative_hardness():
    nan = numpy.nan
    # Epoch means: 1.5 (rows 0 and 3) and 3.0 (rows 0, 2, 3); row 1 was never drawn.
    state = {"epoch_losses": numpy.array([[1.0, nan, nan, 2.0], [3.0, nan, 4.0, 2.0]], dtype="f"),
             "last_loss": numpy.array([3.0, 5.0, 4.0, 2.0]), "hardness": numpy.array([0.25, 0.25, 0.25, 0.25])}
    expected = [(1 / 1.5 + 3 / 3) / 2, 5.0 / 3.5, 4 / 3, (2 / 1.5 + 2 / 3) / 2]
    assert numpy.allclose(hardness_scores(state), expected)
    state["hardness"] = numpy.array([0.5, 0.25, 0.125, 0.125])
    assert numpy.allclose(hardness_scores(state), numpy.array(expected) * [2.0, 1.0, 0.5, 0.5])


@pytest.mark.parametrize("neighbours,agrees,suspect", [
    ([["rare"], ["rare"], ["big"]], False, True),
    ([["rare"], ["rare"], ["big"]], True, False),  # the model agrees with the gold label
    ([["big"], ["big", "rare"], ["rare"]], False, False),  # most neighbours share the gold label
    ([["rare"], ["big"]], False, False),  # a tie is no majority
    ([], False, False),
])
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


def planted_corpus(path):
    """Generated 3-class tweets-like texts, with PLANTED 'rare' texts labelled 'big' at the end."""
    docs = [eg.reference for eg in textcat_examples(150, seed=0)]
    nlp = spacy.blank("en")
    for i in range(PLANTED):
        doc = nlp.make_doc(f"storm wind flood item {1000 + i} the")
        doc.cats = {"big": 1.0, "mid": 0.0, "rare": 0.0}
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)
    return list(range(len(docs) - PLANTED, len(docs)))


def train_full_hamr(folder, pipeline, dev_examples, epochs):
    """`spacy train` of a `spacy init config` pipeline with full HAMR and state_path,
    on folder/train.spacy; writes folder/state.npz and folder/out."""
    from spacy_hamr.variants import variant_config

    from .test_train_cli import init_config, train

    DocBin(docs=[eg.reference for eg in dev_examples]).to_disk(folder / "dev.spacy")
    cfg = init_config(folder, pipeline)
    variant_config(Config().from_disk(cfg, interpolate=False), "hamr",
                   batcher_extra={"state_path": str(folder / "state.npz")}).to_disk(cfg)
    train(cfg, folder, folder / "out", "--training.max_epochs", str(epochs))


@pytest.mark.slow
def test_planted_label_errors_are_the_hardest_and_suspect(tmp_path):
    from spacy_hamr.cli import hamr_cli  # noqa: F401 (registers the command)
    from spacy.cli import app
    from typer.testing import CliRunner

    planted = planted_corpus(tmp_path / "train.spacy")
    train_full_hamr(tmp_path, "textcat", textcat_examples(40, seed=1), epochs=10)

    state = read_state(tmp_path / "state.npz")
    assert int(state["epochs"]) == 10 and state["epoch_losses"].shape == (10, 153)
    assert (state["visits"] > 0).all()

    result = CliRunner().invoke(app, ["hamr", "hard-examples", str(tmp_path / "out" / "model-last"),
                                      str(tmp_path / "train.spacy"), str(tmp_path / "state.npz"),
                                      "--output", str(tmp_path / "report"), "--top-k", "5"])
    assert result.exit_code == 0, result.output
    records = list(srsly.read_jsonl(tmp_path / "report" / "hard_examples.jsonl"))
    big = {r["index"]: r for r in records if r["class"] == "big"}
    for index in planted:
        assert index in big, f"planted example {index} is not among the 5 hardest 'big' examples"
        record = big[index]
        assert record["suspect"] and record["predicted"]["label"] == "rare"
        # Its neighbours are the 'rare' texts (and the other planted ones).
        assert sum(n["gold"] == ["rare"] for n in record["neighbours"]) >= 3
    assert sum(r["suspect"] for r in records if r["index"] not in planted) <= 1
    assert {"index", "text", "gold", "predicted", "hardness", "weight", "loss", "neighbours", "suspect"} <= set(records[0])
    page = (tmp_path / "report" / "hard_examples.html").read_text()
    assert "storm wind flood item 1000 the" in page and "suspect" in page


def planted_ner_corpus(path):
    """Generated PER/LOC sentences, with PLANTED 'Paris' entities labelled PER at the end."""
    from .conftest import ner_example, ner_examples

    examples = ner_examples(150, seed=0)
    vocab = examples[0].reference.vocab
    for i in range(PLANTED):
        examples.append(ner_example(vocab, ["flew", "to", "Paris", str(150 + i)], ["O", "O", "B-PER", "O"]))
    DocBin(docs=[eg.reference for eg in examples]).to_disk(path)
    return list(range(len(examples) - PLANTED, len(examples)))


@pytest.mark.slow
def test_ner_report_names_the_entity_type_that_made_it_hard(tmp_path):
    from spacy_hamr.cli import hard_examples

    from .conftest import ner_examples

    planted = planted_ner_corpus(tmp_path / "train.spacy")
    train_full_hamr(tmp_path, "ner", ner_examples(40, seed=1), epochs=6)
    records = hard_examples(tmp_path / "out" / "model-last", tmp_path / "train.spacy", tmp_path / "state.npz",
                            tmp_path / "report", top_k=5)
    per = {r["index"]: r for r in records if r["class"] == "PER"}
    for index in planted:
        assert index in per, f"planted example {index} is not among the 5 hardest PER examples"
        record = per[index]
        assert record["gold"] == [["Paris", "PER"]]
        assert record["hard_type"] == "PER" and record["suspect"]
        assert ["Paris", "LOC"] in record["predicted"]["entities"]


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
