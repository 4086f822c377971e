"""`spacy hamr adjust`: post-hoc logit adjustment of a trained textcat, chosen
on dev for macro-F1 and folded into the saved model's output bias."""
from pathlib import Path
from typing import Optional

from typer import Argument as Arg, Option as Opt
from wasabi import msg

from ._util import hamr_cli


@hamr_cli.command("adjust")
def adjust_cli(
    # fmt: off
    model: Path = Arg(..., help="A trained pipeline, e.g. training/model-best", exists=True, file_okay=False),
    dev_path: Path = Arg(..., help="Dev corpus (.spacy) to choose the adjustment on", exists=True, dir_okay=False),
    output_dir: Path = Arg(..., help="Where to write the adjusted pipeline"),
    prior: Optional[Path] = Opt(None, "--prior", "-p", help="Training corpus (.spacy) whose class distribution is the prior (default: the corpus the model's config names in [paths] train)", exists=True, dir_okay=False),
    draws_log: Optional[Path] = Opt(None, "--draws-log", help="Take the prior from a hamr.v1 batcher log (log_path): the class shares of HAMR's draws", exists=True, dir_okay=False),
    component: Optional[str] = Opt(None, "--component", "-c", help="The textcat component, if the pipeline has several"),
    # fmt: on
):
    """Choose tau (exclusive textcat: predict argmax z - tau log prior) or one
    threshold per label (textcat_multilabel) on the dev corpus for macro-F1,
    and write the pipeline with only its output bias changed: plain spaCy."""
    try:
        adjustment = adjust(model, dev_path, output_dir, prior, draws_log, component)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Adjusted {adjustment.describe()}; wrote {output_dir}")


def adjust(model: Path, dev_path: Path, output_dir: Path, prior: Optional[Path] = None,
           draws_log: Optional[Path] = None, component: Optional[str] = None):
    """Adjust `model` on `dev_path` and write it to `output_dir`; return the Adjustment."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Corpus

    from ..adjust import adjust_pipeline, draws_prior, textcat_component

    if prior is not None and draws_log is not None:
        raise ValueError("Give the prior as --prior (a training corpus) or --draws-log, not both.")
    nlp = spacy.load(model)
    dev = list(Corpus(dev_path)(nlp))
    if draws_log is not None:
        labels = list(nlp.get_pipe(textcat_component(nlp, component)).labels)
        adjustment = adjust_pipeline(nlp, dev, prior=draws_prior(draws_log, labels), component=component)
    else:
        train_path = prior or nlp.config["paths"].get("train")
        if not train_path or not Path(train_path).is_file():
            raise ValueError(f"The model's config names no training corpus that exists ({train_path}): "
                             "give it with --prior.")
        train = list(DocBin().from_disk(train_path).get_docs(nlp.vocab))
        adjustment = adjust_pipeline(nlp, dev, train=train, component=component)
    nlp.to_disk(output_dir)
    return adjustment
