"""The label-error report of one training run: per class, the training examples
likeliest to be mislabelled, with the model's prediction and their nearest
neighbours, and an estimate for the whole corpus.

Text classification with one gold category per example (`textcat`): ranked by
the training dynamics the state file keeps (spacy_hamr/label_errors/training_dynamics.py), the
gold label's mean probability over training, lowest first; `likely_error`
where the gold label lost to another on average, `suspect` (the
high-precision tier) where its mean probability stayed below chance (1 / the
number of labels). The summary
counts likely errors per class, with a from -> to table.

NER: the span suspects of the trained model (spacy_hamr/label_errors/span_suspects.py),
typed wrong_type / boundary / missing / spurious, each scored by the model's
loss on the gold reading at its tokens; a sentence ranks by its strongest.

`textcat_multilabel`, a `textcat` whose model has exclusive_classes = false
(one sigmoid per label: its scores are no distribution over the classes, which
the tiers above assume), and state files without predictions: ranked by the
example's loss over the run, each epoch's loss taken relative to that epoch's
mean, scaled by its learned hardness relative to uniform; `suspect` where the
model disagrees with the gold class and most neighbours (by the batcher's
embedder) carry another class.
"""
import html
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy
import srsly
from spacy.language import Language
from spacy.pipeline import TextCategorizer
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from ..textcat_output import exclusive_classes_block, scores_per_label
from ..resampling.embedders import make_tfidf_embedder
from ..errors import HamrWarning
from .training_dynamics import TextcatErrors, from_to_table, gold_indices, has_predictions, per_class_estimate, textcat_errors
from ..labels import NO_ENTITY, NO_LABEL, corpus_labels, is_textcat, positive_categories, primary_labels
from ..resampling.neighbors import Embedder, NeighbourIndex
from .prodigy import ner_task, review_command, textcat_task
from .span_suspects import KINDS, Suspect, find_span_suspects, sentence_scores
from ..training.state_file import in_corpus_order


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


def scored_per_label(nlp: Language, score_labels: Sequence[str]) -> Optional[str]:
    """The textcat component that recorded the state's predictions (its labels
    are the score columns) if it scores each label with its own sigmoid, else None."""
    for name, pipe in nlp.pipeline:
        if isinstance(pipe, TextCategorizer) and list(pipe.labels) == [str(label) for label in score_labels]:
            return name if scores_per_label(pipe) else None
    return None


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


class Report(NamedTuple):
    records: List[Dict]  # one per reported example and class
    summary: Dict  # what the run says of the whole corpus (label_error_summary)
    flagged: List[Dict]  # every example to review, likeliest error first: index, score, and why


def build_report(nlp: Language, docs: Sequence[Doc], state: Dict[str, numpy.ndarray], positions: numpy.ndarray,
                 top_k: int = 20, n_neighbours: int = 5,
                 progress: Callable[[Iterable], Iterable] = lambda items: items) -> Report:
    """The top_k likeliest label errors of each class, and the corpus summary.

    Exclusive textcat runs rank by the training dynamics (spacy_hamr/label_errors/training_dynamics.py),
    NER runs by their span suspects (spacy_hamr/label_errors/span_suspects.py), runs of a textcat
    that scores each label with its own sigmoid (textcat_multilabel, or textcat
    with exclusive_classes = false) and state files without predictions by
    `hardness_scores`.
    """
    textcat = is_textcat(docs)
    labels = corpus_labels(docs)
    exclusive = textcat and all(len(classes) <= 1 for classes in labels)
    n = len(docs)
    state = in_corpus_order(state, positions, n)
    errors, spans = None, None
    # spaCy's exclusive textcat has exactly one gold category per training example.
    dynamics = exclusive and has_predictions(state) and NO_LABEL not in primary_labels(labels)
    sigmoid = scored_per_label(nlp, state["score_labels"]) if dynamics else None
    if sigmoid is not None:
        warnings.warn(f"{sigmoid!r} scores each label with its own sigmoid (exclusive_classes = false in "
                      f"{exclusive_classes_block(nlp, sigmoid)}): its scores are no distribution over the "
                      "classes, which the gold label's probability tiers assume, so the examples are ranked "
                      "by relative loss x hardness, as for textcat_multilabel.", HamrWarning)
    if dynamics and sigmoid is None:
        gold = gold_indices(primary_labels(labels), list(state["score_labels"]))
        errors = textcat_errors(state, gold)
        score = errors.score
    elif not textcat:
        spans = find_span_suspects(nlp, docs)
        score = sentence_scores(n, spans)
    else:
        score = hardness_scores(state)
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
    spans_of: Dict[int, List[Dict]] = {}  # sentence -> its suspects, as reported
    for suspect in spans or []:
        spans_of.setdefault(suspect.doc, []).append(suspect_fields(docs[suspect.doc], suspect))
    records = []
    for i, near in zip(reported, neighbours):
        near = [int(j) for j in near if j >= 0 and j != i][:n_neighbours]
        doc, pred = docs[i], predictions[i]
        for label, rank in chosen[i]:
            record = {
                "class": label, "rank": rank, "index": i, "text": doc.text, "gold": gold_of(doc, textcat),
                "predicted": predicted_of(pred, textcat), "score": round(float(score[i]), 6),
                "hardness": float(state["hardness"][i]),
                "weight": float(state["last_weight"][i]), "loss": _number(state["last_loss"][i]),
                "loss_history": [_number(x) for x in state["epoch_losses"][:, i]],
                "visits": int(state["visits"][i]),
                "neighbours": [{"index": j, "text": docs[j].text, "gold": gold_of(docs[j], textcat)} for j in near],
            }
            if errors is not None:
                record.update(label_error_fields(errors, i))
            elif spans is not None:
                record["span_suspects"] = spans_of.get(i, [])
                record["suspect"] = bool(record["span_suspects"])
            else:
                agrees = model_agrees(doc, pred, label, textcat, exclusive)
                record["suspect"] = is_suspect(label, [labels[j] for j in near], agrees)
            if not textcat:
                record["hard_type"] = hard_type(doc, pred, label)
            records.append(record)
    records.sort(key=lambda r: (r["class"], r["rank"]))
    summary = label_error_summary(errors, gold) if errors is not None else {}
    if spans is not None:
        summary.update(span_suspects=len(spans), sentences_with_suspects=len(spans_of),
                       span_suspects_per_kind={kind: sum(s.kind == kind for s in spans) for kind in KINDS})
    ranking = ("training dynamics" if errors is not None else "span suspects" if spans is not None
               else "relative loss x hardness")
    summary.update(examples=n, resampled=bool(state.get("resampled", True)), ranking=ranking)
    if spans is not None:
        order = sorted(spans_of, key=lambda i: (-score[i], i))
        flagged = [{"index": i, "score": round(float(score[i]), 6), "span_suspects": spans_of[i]} for i in order]
    elif errors is not None:
        order = numpy.argsort(-score, kind="stable")
        flagged = [{"index": int(i), "score": round(float(score[i]), 6), "suspect": bool(errors.suspect[i]),
                    "suggested": errors.labels[errors.suggested[i]]} for i in order if errors.likely[i]]
    else:  # the suspects among the reported, once each (an example may be reported under several classes)
        suspects = {r["index"]: r["score"] for r in records if r["suspect"]}
        flagged = [{"index": i, "score": suspects[i], "suspect": True}
                   for i in sorted(suspects, key=lambda i: -suspects[i])]
    return Report(records, summary, flagged)


def suspect_fields(doc: Doc, suspect: Suspect) -> Dict:
    def span(s):
        return None if s is None else [doc[s[0]:s[1]].text, s[2]]
    return {"kind": suspect.kind, "gold": span(suspect.gold), "predicted": span(suspect.predicted),
            "score": round(suspect.score, 6)}


def write_review(report: Report, docs: Sequence[Doc], path: Path) -> str:
    """Write the flagged examples as Prodigy tasks (spacy_hamr/label_errors/prodigy.py), the
    score in `meta`; return the Prodigy command that opens them."""
    textcat = is_textcat(docs)
    labels = sorted({label for doc in docs for label in (doc.cats if textcat else [e.label_ for e in doc.ents])})
    tasks = []
    for rank, item in enumerate(report.flagged):
        meta = {"rank": rank + 1, **item}
        doc = docs[item["index"]]
        tasks.append(textcat_task(doc, labels, positive_categories(doc.cats), meta) if textcat
                     else ner_task(doc, meta))
    srsly.write_jsonl(path, tasks)
    return review_command(textcat, str(path), labels)


def label_error_fields(errors: TextcatErrors, i: int) -> Dict:
    return {"confidence": _number(errors.confidence[i]), "variability": _number(errors.variability[i]),
            "margin": _number(errors.margin[i]), "suggested": errors.labels[errors.suggested[i]],
            "likely_error": bool(errors.likely[i]), "suspect": bool(errors.suspect[i])}


def label_error_summary(errors: TextcatErrors, gold: numpy.ndarray) -> Dict:
    return {"likely_errors": int(errors.likely.sum()), "suspects": int(errors.suspect.sum()),
            "never_drawn": int(numpy.isnan(errors.confidence).sum()),
            "likely_errors_per_class": per_class_estimate(errors, gold), "from_to": from_to_table(errors, gold)}


def _number(value) -> Optional[float]:
    return None if not numpy.isfinite(value) else round(float(value), 6)


def write_html(report: Report, path: Path, title: str) -> None:
    """A page to skim for label errors: the corpus estimate, the suspects, then one table per class."""
    esc = html.escape
    records, summary = report.records, report.summary
    head = ("<colgroup><col style='width:5%'><col style='width:11%'><col style='width:26%'><col style='width:11%'>"
            "<col style='width:11%'><col style='width:10%'><col style='width:5%'><col style='width:21%'></colgroup>"
            "<tr><th>#</th><th>class</th><th>text</th><th>gold</th><th>predicted</th><th>score</th>"
            "<th>weight</th><th>nearest neighbours: gold, text</th></tr>")

    def row(r: Dict) -> str:
        near = "".join(f"<li><b>{esc(_gold_text(n['gold']))}</b>: {esc(n['text'][:90])}</li>"
                       for n in r["neighbours"])
        return (f"<tr class='{'suspect' if r['suspect'] else ''}'><td>{r['rank']}<br>#{r['index']}"
                f"{'<br><b>suspect</b>' if r['suspect'] else ''}</td><td>{esc(r['class'])}</td>"
                f"<td>{esc(r['text'])}</td><td>{esc(_gold_text(r['gold']))}</td><td>{esc(_prediction_text(r))}</td>"
                f"<td>{r['score']:.3f}<div class='n'>{esc(_score_detail(r))}</div></td>"
                f"<td>{r['weight']:.2f}</td><td class='n'><ol>{near}</ol></td></tr>")

    suspects = [r for r in records if r["suspect"]]
    if summary.get("ranking") == "span suspects":
        how = ("Per entity type, the training sentences where the trained model disagrees with the gold "
               "entities most confidently (score: its loss on the gold reading at the suspect's worst token). "
               "Each suspect is typed: wrong_type, boundary, missing (an entity the gold lacks), spurious (a "
               "gold entity the model does not see).")
    elif summary.get("ranking") == "training dynamics":
        how = ("Per class, the training examples whose gold label the model believed least over training "
               "(score: 1 - the gold label's mean probability at its visits). <b>Likely error</b>: the gold "
               "label lost to another on average. <b>Suspect</b>: its mean probability stayed below chance "
               "(1 / the number of labels).")
    else:
        how = ("Per class, the training examples with the highest loss over training (each epoch's loss "
               "relative to the epoch's mean, scaled by the learned hardness). <b>Suspect</b>: the model "
               "disagrees with the gold class and most nearest neighbours carry another class.")
    parts = [f"<!doctype html><meta charset='utf-8'><title>{esc(title)}</title>",
             "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse;width:100%;table-layout:fixed}"
             "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;overflow-wrap:anywhere}tr.suspect{background:#fde2e2}"
             ".n{color:#555;font-size:12px}ol{margin:0;padding-left:1.4em}table.s{width:auto}</style>",
             f"<h1>{esc(title)}</h1>", f"<p>{how} Check the label; a person decides.</p>"]
    if "likely_errors_per_class" in summary:
        per_class = "".join(f"<tr><td>{esc(c)}</td><td>{k}</td></tr>"
                            for c, k in sorted(summary["likely_errors_per_class"].items(), key=lambda x: -x[1]) if k)
        moves = "".join(f"<tr><td>{esc(m['from'])}</td><td>{esc(m['to'])}</td><td>{m['count']}</td></tr>"
                        for m in summary["from_to"][:20])
        parts.append(f"<h2>About {summary['likely_errors']} likely label errors in {summary['examples']} examples</h2>"
                     f"<table class='s'><tr><th>gold class</th><th>likely errors</th></tr>{per_class}</table>"
                     f"<h3>Most likely true class</h3><table class='s'><tr><th>from</th><th>to</th><th>count</th>"
                     f"</tr>{moves}</table>")
    parts.append(f"<h2>Suspects ({len(suspects)} of {len(records)} reported)</h2>")
    if suspects:
        parts.append("<table>" + head + "".join(row(r) for r in suspects) + "</table>")
    for label in sorted({r["class"] for r in records}):
        rows = [r for r in records if r["class"] == label]
        parts.append(f"<h2>{esc(label)} <small>({sum(r['suspect'] for r in rows)} suspect of {len(rows)})</small>"
                     f"</h2><table>{head}{''.join(row(r) for r in rows)}</table>")
    path.write_text("\n".join(parts), encoding="utf8")


def _score_detail(record: Dict) -> str:
    if "span_suspects" in record:
        return "; ".join(f"{x['kind']} {x['score']:.1f}: gold {_span_text(x['gold'])}, model {_span_text(x['predicted'])}"
                         for x in record["span_suspects"]) or "no suspect"
    if "confidence" in record:
        conf = "-" if record["confidence"] is None else f"{record['confidence']:.2f}"
        margin = "-" if record["margin"] is None else f"{record['margin']:+.2f}"
        return f"gold p {conf}, margin {margin}; likeliest other: {record['suggested']}"
    return "loss per epoch: " + " ".join("-" if x is None else f"{x:.2f}" for x in record["loss_history"])


def _span_text(span) -> str:
    return "-" if span is None else f"{span[0]} [{span[1]}]"


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
