"""`spacy hamr hard-examples`: the hardest training examples per class, with
their neighbours, flagging likely label errors."""
from pathlib import Path
from typing import Dict, List

import srsly
from typer import Argument as Arg, Option as Opt
from wasabi import msg

from ._util import hamr_cli


@hamr_cli.command("hard-examples")
def hard_examples_cli(
    # fmt: off
    model: Path = Arg(..., help="The trained pipeline (e.g. training/model-best)", exists=True, file_okay=False),
    train_path: Path = Arg(..., help="The training corpus it was trained on (.spacy)", exists=True, dir_okay=False),
    state_path: Path = Arg(..., help="The state file the hamr.v1 batcher wrote (its state_path setting)", exists=True, dir_okay=False),
    output_dir: Path = Opt(..., "--output", "-o", help="Where to write hard_examples.jsonl and hard_examples.html"),
    top_k: int = Opt(20, "--top-k", "-k", help="Examples reported per class", min=1),
    n_neighbours: int = Opt(5, "--neighbours", "-n", help="Nearest training examples shown per example", min=1),
    # fmt: on
):
    """Report the training examples HAMR found hardest, per class: text, gold
    and predicted labels, loss over training, learned weight, and nearest
    neighbours. `suspect` marks examples whose model prediction and most
    neighbours disagree with the gold label: likely label errors.
    """
    try:
        records = hard_examples(model, train_path, state_path, output_dir, top_k, n_neighbours)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    suspects = [r for r in records if r["suspect"]]
    msg.good(f"Reported {len(records)} examples in {len({r['class'] for r in records})} classes, "
             f"{len(suspects)} suspect: {output_dir / 'hard_examples.html'}")
    for record in suspects[:10]:
        msg.text(f"  suspect #{record['index']} ({record['class']}): {record['text'][:100]}")


def hard_examples(model: Path, train_path: Path, state_path: Path, output_dir: Path, top_k: int = 20,
                  n_neighbours: int = 5) -> List[Dict]:
    """Write output_dir/hard_examples.jsonl and .html; return the records."""
    import spacy
    from spacy.tokens import DocBin

    from ..hard_examples import build_report, write_html
    from ..progress import progress
    from ..state_file import corpus_positions, read_state

    nlp = spacy.load(model)
    docs = list(DocBin().from_disk(train_path).get_docs(nlp.vocab))
    state = read_state(state_path)
    positions = corpus_positions(state["fingerprint"], docs, str(train_path))
    records = build_report(nlp, docs, state, positions, top_k, n_neighbours,
                           progress=lambda texts: progress(texts, "Predicting", len(texts)))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    srsly.write_jsonl(output_dir / "hard_examples.jsonl", records)
    write_html(records, output_dir / "hard_examples.html", f"Hard examples of {train_path.name} ({model.name})")
    return records
