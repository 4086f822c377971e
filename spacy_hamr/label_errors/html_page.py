"""The label-error report as one HTML page to skim: the corpus estimate, the
suspects, then one table per class. The page carries its own style, so it
opens from anywhere as a single file."""

import html
from pathlib import Path
from typing import Dict

from .report import Report

STYLE = (
    "body{font:14px sans-serif;margin:2em}table{border-collapse:collapse;width:100%;table-layout:fixed}"
    "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;overflow-wrap:anywhere}tr.suspect{background:#fde2e2}"
    ".n{color:#555;font-size:12px}ol{margin:0;padding-left:1.4em}table.s{width:auto}"
)
TABLE_HEAD = (
    "<colgroup><col style='width:5%'><col style='width:11%'><col style='width:26%'><col style='width:11%'>"
    "<col style='width:11%'><col style='width:10%'><col style='width:5%'><col style='width:21%'></colgroup>"
    "<tr><th>#</th><th>class</th><th>text</th><th>gold</th><th>predicted</th><th>score</th>"
    "<th>weight</th><th>nearest neighbours: gold, text</th></tr>"
)


def write_html(report: Report, path: Path, title: str) -> None:
    """A page to skim for label errors: the corpus estimate, the suspects, then one table per class."""
    esc = html.escape
    records, summary = report.records, report.summary
    head = TABLE_HEAD

    def row(r: Dict) -> str:
        near = "".join(f"<li><b>{esc(_gold_text(n['gold']))}</b>: {esc(n['text'][:90])}</li>" for n in r["neighbours"])
        return (
            f"<tr class='{'suspect' if r['suspect'] else ''}'><td>{r['rank']}<br>#{r['index']}"
            f"{'<br><b>suspect</b>' if r['suspect'] else ''}</td><td>{esc(r['class'])}</td>"
            f"<td>{esc(r['text'])}</td><td>{esc(_gold_text(r['gold']))}</td><td>{esc(_prediction_text(r))}</td>"
            f"<td>{r['score']:.3f}<div class='n'>{esc(_score_detail(r))}</div></td>"
            f"<td>{r['weight']:.2f}</td><td class='n'><ol>{near}</ol></td></tr>"
        )

    suspects = [r for r in records if r["suspect"]]
    if summary.get("ranking") == "span suspects":
        how = (
            "Per entity type, the training sentences where the trained model disagrees with the gold "
            "entities most confidently (score: its loss on the gold reading at the suspect's worst token). "
            "Each suspect is typed: wrong_type, boundary, missing (an entity the gold lacks), spurious (a "
            "gold entity the model does not see)."
        )
    elif summary.get("ranking") == "training dynamics":
        how = (
            "Per class, the training examples whose gold label the model believed least over training "
            "(score: 1 - the gold label's mean probability at its visits). <b>Likely error</b>: the gold "
            "label lost to another on average. <b>Suspect</b>: its mean probability stayed below chance "
            "(1 / the number of labels)."
        )
    else:
        how = (
            "Per class, the training examples with the highest loss over training (each epoch's loss "
            "relative to the epoch's mean, scaled by the learned hardness). <b>Suspect</b>: the model "
            "disagrees with the gold class and most nearest neighbours carry another class."
        )
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{esc(title)}</title>",
        f"<style>{STYLE}</style>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{how} Check the label; a person decides.</p>",
    ]
    if "likely_errors_per_class" in summary:
        per_class = "".join(
            f"<tr><td>{esc(c)}</td><td>{k}</td></tr>"
            for c, k in sorted(summary["likely_errors_per_class"].items(), key=lambda x: -x[1])
            if k
        )
        moves = "".join(
            f"<tr><td>{esc(m['from'])}</td><td>{esc(m['to'])}</td><td>{m['count']}</td></tr>"
            for m in summary["from_to"][:20]
        )
        parts.append(
            f"<h2>About {summary['likely_errors']} likely label errors in {summary['examples']} examples</h2>"
            f"<table class='s'><tr><th>gold class</th><th>likely errors</th></tr>{per_class}</table>"
            f"<h3>Most likely true class</h3><table class='s'><tr><th>from</th><th>to</th><th>count</th>"
            f"</tr>{moves}</table>"
        )
    parts.append(f"<h2>Suspects ({len(suspects)} of {len(records)} reported)</h2>")
    if suspects:
        parts.append("<table>" + head + "".join(row(r) for r in suspects) + "</table>")
    for label in sorted({r["class"] for r in records}):
        rows = [r for r in records if r["class"] == label]
        parts.append(
            f"<h2>{esc(label)} <small>({sum(r['suspect'] for r in rows)} suspect of {len(rows)})</small>"
            f"</h2><table>{head}{''.join(row(r) for r in rows)}</table>"
        )
    path.write_text("\n".join(parts), encoding="utf8")


def _score_detail(record: Dict) -> str:
    if "span_suspects" in record:
        return (
            "; ".join(
                f"{x['kind']} {x['score']:.1f}: gold {_span_text(x['gold'])}, model {_span_text(x['predicted'])}"
                for x in record["span_suspects"]
            )
            or "no suspect"
        )
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
