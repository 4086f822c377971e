"""The comparison's scores: macro-F1 from spaCy's metrics, and `spacy evaluate` run
in its own process."""

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_hamr.experiments.metrics import macro_f1, per_class_f1, spacy_evaluate
from spacy_hamr.threads import pinned_environment


def test_macro_f1_of_textcat_and_ner_metrics():
    textcat = {"cats_macro_f": 0.5, "cats_f_per_type": {"a": {"f": 0.8}, "b": {"f": 0.3}}}
    assert macro_f1(textcat) == pytest.approx(50.0)  # spaCy's own macro-F, not a re-computed mean
    ner = {"ents_per_type": {"PER": {"f": 0.9}, "ORG": {"f": 0.5}}}
    assert per_class_f1(ner) == pytest.approx({"PER": 90.0, "ORG": 50.0})
    assert macro_f1(ner) == pytest.approx(70.0)


@pytest.mark.slow
def test_spacy_evaluate_returns_what_it_wrote(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat")
    examples = [
        Example.from_dict(nlp.make_doc(text), {"cats": {"pos": float(label == "pos"), "neg": float(label == "neg")}})
        for text, label in [("good fine", "pos"), ("bad awful", "neg")] * 4
    ]
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path / "model")
    DocBin(docs=[eg.reference for eg in examples]).to_disk(tmp_path / "test.spacy")
    metrics = spacy_evaluate(
        tmp_path / "model", tmp_path / "test.spacy", tmp_path / "test.json", env=pinned_environment(1)
    )
    assert set(per_class_f1(metrics)) == {"pos", "neg"}
    assert (tmp_path / "test.json").exists()


@pytest.mark.slow
def test_spacy_evaluate_failure_names_the_model(tmp_path):
    with pytest.raises(RuntimeError, match="no_such_model"):
        spacy_evaluate(tmp_path / "no_such_model", tmp_path / "test.spacy", tmp_path / "test.json")
