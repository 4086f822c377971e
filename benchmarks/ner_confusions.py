"""What becomes of each gold entity type: predicted exactly with its type or
another, overlapping a prediction (boundary error, same or other type), or
missed. Tells whether a rare type loses to its frequency or to its neighbours.

    python benchmarks/ner_confusions.py MODEL DEV.spacy --out results/ner_confusions.json
"""

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import spacy
import srsly
from spacy.tokens import Doc

from spacy_hamr.corpus import read_docs


def confusions(nlp, docs):
    out = defaultdict(Counter)
    predicted = nlp.pipe(Doc(nlp.vocab, words=[t.text for t in doc]) for doc in docs)
    for gold, pred in zip(docs, predicted):
        spans = {(e.start, e.end): e.label_ for e in pred.ents}
        for ent in gold.ents:
            if (ent.start, ent.end) in spans:
                out[ent.label_][f"exact {spans[ent.start, ent.end]}"] += 1
                continue
            overlapping = [label for (start, end), label in spans.items() if start < ent.end and end > ent.start]
            out[ent.label_][f"overlap {overlapping[0]}" if overlapping else "missed"] += 1
    return {label: dict(counts.most_common()) for label, counts in sorted(out.items())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    nlp = spacy.load(args.model)
    result = confusions(nlp, read_docs(args.corpus, nlp.vocab))
    srsly.write_json(args.out, {"model": str(args.model), "corpus": str(args.corpus), "confusions": result})
    for label, counts in result.items():
        total = sum(counts.values())
        print(f"{label:10s} {total:5d} gold: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in counts.items()))


if __name__ == "__main__":
    main()
