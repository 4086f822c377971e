"""The hard-example report: per class, the training examples that stayed hardest,
with the model's prediction and their nearest neighbours, flagging likely label
errors.

What "hard" means here: the example's loss over the whole run, each epoch's
loss taken relative to that epoch's mean, scaled by its learned hardness
relative to uniform. The loss history is what separates examples: a mislabelled
example keeps a high loss while the model learns its class from the others. The
learned hardness adds HAMR's view where the meta-learned weights move it, and
is 1 (no effect) where they stay uniform.

An example is `suspect` when the model disagrees with its gold class and most
of its neighbours (by the batcher's embedder) carry another gold class.
"""
import html
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .embedders import make_tfidf_embedder
from .labels import NO_ENTITY, NO_LABEL, corpus_labels, is_textcat, positive_categories
from .neighbors import Embedder, NeighbourIndex


def hardness_scores(state: Dict[str, numpy.ndarray]) -> numpy.ndarray:
    """Per-example score: its loss relative to the epoch's mean loss, averaged
    over the epochs that drew it, times its hardness relative to uniform.

    Dividing by the epoch's mean removes the trend of training (every loss is
    high in the first epoch and falls after), so an example that was only drawn
    early is not mistaken for a hard one. Never drawn: its latest known loss
    relative to the mean latest loss (0 if none is known).
    """
    epochs = numpy.asarray(state["epoch_losses"], dtype="float64")
    finite = numpy.isfinite(epochs)
    with numpy.errstate(invalid="ignore", divide="ignore"):
        epoch_mean = numpy.where(finite, epochs, 0.0).sum(axis=1) / finite.sum(axis=1)
        relative = numpy.where(finite, epochs / numpy.maximum(epoch_mean, 1e-12)[:, None], 0.0)
    seen = finite.sum(axis=0)
    last = numpy.asarray(state["last_loss"], dtype="float64")
    last_mean = numpy.nanmean(last) if numpy.isfinite(last).any() else 1.0
    fallback = numpy.nan_to_num(last / max(last_mean, 1e-12), nan=0.0)
    score = numpy.where(seen > 0, relative.sum(axis=0) / numpy.maximum(seen, 1), fallback)
    hardness = state["hardness"]
    return score * hardness / max(float(hardness.mean()), 1e-300)


def embedder_of(nlp: Language) -> Embedder:
    """The embedder the model was trained with ([training.batcher] embedder of
    hamr.v1), else the default TF-IDF embedder."""
    batcher = nlp.config.get("training", {}).get("batcher", {})
    if batcher.get("@batchers") == "hamr.v1" and batcher.get("embedder"):
        return registry.resolve({"embedder": nlp.config.interpolate()["training"]["batcher"]["embedder"]})["embedder"]
    return make_tfidf_embedder()


def gold_of(doc: Doc, textcat: bool):
    if textcat:
        return positive_categories(doc.cats)
    return [[ent.text, ent.label_] for ent in doc.ents]


def predicted_of(doc: Doc, textcat: bool) -> Dict:
    if textcat:
        label = max(doc.cats, key=doc.cats.get) if doc.cats else None
        return {"label": label, "score": round(float(doc.cats[label]), 4) if label else None,
                "labels": positive_categories(doc.cats)}
    return {"entities": [[ent.text, ent.label_] for ent in doc.ents]}


def model_agrees(gold: Doc, predicted: Doc, label: str, textcat: bool, exclusive: bool) -> bool:
    """Does the model reproduce the gold class `label` of this example?"""
    if label in (NO_LABEL, NO_ENTITY):
        return not (predicted.ents or positive_categories(predicted.cats))
    if textcat:
        if exclusive:
            return bool(predicted.cats) and max(predicted.cats, key=predicted.cats.get) == label
        return label in positive_categories(predicted.cats)
    spans = lambda doc: {(e.start_char, e.end_char) for e in doc.ents if e.label_ == label}  # noqa: E731
    return spans(gold) == spans(predicted)


def is_suspect(label: str, neighbour_labels: Sequence[List[str]], agrees: bool) -> bool:
    """A likely label error: the model disagrees with the gold class, and most
    neighbours carry another class."""
    others = sum(label not in classes for classes in neighbour_labels)
    return not agrees and others > len(neighbour_labels) / 2


def hard_type(gold: Doc, predicted: Doc, label: str) -> str:
    """The entity type with the most errors (missed or spurious spans), ties
    going to the type it is reported under, then to gold types; the type it is
    reported under when the model gets the sentence right."""
    gold_spans = {(e.start_char, e.end_char, e.label_) for e in gold.ents}
    pred_spans = {(e.start_char, e.end_char, e.label_) for e in predicted.ents}
    errors: Dict[str, int] = {}
    for _, _, span_label in gold_spans ^ pred_spans:
        errors[span_label] = errors.get(span_label, 0) + 1
    gold_types = {span[2] for span in gold_spans}
    return max(sorted(errors), key=lambda t: (errors[t], t == label, t in gold_types)) if errors else label


def build_report(nlp: Language, docs: Sequence[Doc], state: Dict[str, numpy.ndarray], positions: numpy.ndarray,
                 top_k: int = 20, n_neighbours: int = 5,
                 progress: Callable[[Iterable], Iterable] = lambda items: items) -> List[Dict]:
    """One record per reported example: the top_k hardest of each class."""
    textcat = is_textcat(docs)
    labels = corpus_labels(docs)
    exclusive = textcat and all(len(classes) <= 1 for classes in labels)
    n = len(docs)
    row_of = numpy.full(n, -1, dtype="int64")
    row_of[positions] = numpy.arange(len(positions))
    if (row_of < 0).any():
        raise ValueError(f"The state file covers {len(positions)} examples but the corpus has {n}: "
                         "it was written for another training corpus.")
    score = hardness_scores(state)[row_of]
    chosen: Dict[int, List[Tuple[str, int]]] = {}  # example -> (class, rank) it is reported under
    for label in sorted({label for doc_classes in labels for label in doc_classes}):
        members = numpy.array([i for i in range(n) if label in labels[i]])
        order = members[numpy.argsort(-score[members], kind="stable")][:top_k]
        for rank, i in enumerate(order.tolist()):
            chosen.setdefault(i, []).append((label, rank + 1))
    reported = sorted(chosen)
    vectors = embedder_of(nlp)([Example(doc, doc) for doc in docs])
    index = NeighbourIndex(vectors)
    neighbours = index.search(numpy.array(reported, dtype="int64"), min(n, n_neighbours + 1))
    predictions = dict(zip(reported, nlp.pipe(progress([docs[i].text for i in reported]))))
    records = []
    for i, near in zip(reported, neighbours):
        near = [int(j) for j in near if j >= 0 and j != i][:n_neighbours]
        doc, pred, row = docs[i], predictions[i], row_of[i]
        for label, rank in chosen[i]:
            suspect = is_suspect(label, [labels[j] for j in near], model_agrees(doc, pred, label, textcat, exclusive))
            record = {
                "class": label, "rank": rank, "index": i, "text": doc.text, "gold": gold_of(doc, textcat),
                "predicted": predicted_of(pred, textcat),
                "hardness_score": round(float(score[i]), 6), "hardness": float(state["hardness"][row]),
                "weight": float(state["last_weight"][row]), "loss": _number(state["last_loss"][row]),
                "loss_history": [_number(x) for x in state["epoch_losses"][:, row]],
                "visits": int(state["visits"][row]),
                "neighbours": [{"index": j, "text": docs[j].text, "gold": gold_of(docs[j], textcat)} for j in near],
                "suspect": suspect,
            }
            if not textcat:
                record["hard_type"] = hard_type(doc, pred, label)
            records.append(record)
    return sorted(records, key=lambda r: (r["class"], r["rank"]))


def _number(value) -> Optional[float]:
    return None if not numpy.isfinite(value) else round(float(value), 6)


def write_html(records: List[Dict], path: Path, title: str) -> None:
    """A page to skim for label errors: the suspects first, then one table per class."""
    esc = html.escape
    head = ("<colgroup><col style='width:5%'><col style='width:11%'><col style='width:26%'><col style='width:11%'>"
            "<col style='width:11%'><col style='width:8%'><col style='width:5%'><col style='width:23%'></colgroup>"
            "<tr><th>#</th><th>class</th><th>text</th><th>gold</th><th>predicted</th><th>loss over training</th>"
            "<th>weight</th><th>nearest neighbours: gold, text</th></tr>")

    def row(r: Dict) -> str:
        history = " ".join("-" if x is None else f"{x:.2f}" for x in r["loss_history"])
        near = "".join(f"<li><b>{esc(_gold_text(n['gold']))}</b>: {esc(n['text'][:90])}</li>"
                       for n in r["neighbours"])
        return (f"<tr class='{'suspect' if r['suspect'] else ''}'><td>{r['rank']}<br>#{r['index']}"
                f"{'<br><b>suspect</b>' if r['suspect'] else ''}</td><td>{esc(r['class'])}</td>"
                f"<td>{esc(r['text'])}</td><td>{esc(_gold_text(r['gold']))}</td><td>{esc(_prediction_text(r))}</td>"
                f"<td>{r['hardness_score']:.3f}<div class='n'>per epoch: {history}</div></td>"
                f"<td>{r['weight']:.2f}</td><td class='n'><ol>{near}</ol></td></tr>")

    suspects = [r for r in records if r["suspect"]]
    parts = [f"<!doctype html><meta charset='utf-8'><title>{esc(title)}</title>",
             "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse;width:100%;table-layout:fixed}"
             "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;overflow-wrap:anywhere}tr.suspect{background:#fde2e2}"
             ".n{color:#555;font-size:12px}ol{margin:0;padding-left:1.4em}</style>", f"<h1>{esc(title)}</h1>",
             "<p>Per class, the training examples with the highest loss over training (each epoch's loss "
             "relative to the epoch's mean, scaled by the learned hardness). <b>Suspect</b>: the model "
             "disagrees with the gold class and most nearest neighbours carry another class: check the "
             "label.</p>", f"<h2>Suspects ({len(suspects)} of {len(records)})</h2>"]
    if suspects:
        parts.append("<table>" + head + "".join(row(r) for r in suspects) + "</table>")
    for label in sorted({r["class"] for r in records}):
        rows = [r for r in records if r["class"] == label]
        parts.append(f"<h2>{esc(label)} <small>({sum(r['suspect'] for r in rows)} suspect of {len(rows)})</small>"
                     f"</h2><table>{head}{''.join(row(r) for r in rows)}</table>")
    path.write_text("\n".join(parts), encoding="utf8")


def _gold_text(gold) -> str:
    if gold and isinstance(gold[0], list):
        return ", ".join(f"{text} [{label}]" for text, label in gold) or "(no entity)"
    return ", ".join(gold) or "(no label)"


def _prediction_text(record: Dict) -> str:
    pred = record["predicted"]
    if "entities" in pred:
        text = _gold_text(pred["entities"])
        return f"{text} (hardest type: {record['hard_type']})" if record.get("hard_type") else text
    return f"{pred['label']} {pred['score']:.2f}" if pred["label"] else "-"
