"""`spacy hamr adjust`: post-hoc logit adjustment of a trained textcat, chosen
on dev for macro-F1 and folded into the saved model's output bias."""

from pathlib import Path
from typing import Optional

from typer import Argument as Arg, Option as Opt
from wasabi import msg

from ._util import hamr_cli, output_folder


@hamr_cli.command("adjust")
def adjust_cli(
    # fmt: off
    model: Path = Arg(..., help="A trained pipeline, e.g. training/model-best", exists=True, file_okay=False),
    dev_path: Path = Arg(..., help="Dev corpus (.spacy) to choose the adjustment on", exists=True, dir_okay=False),
    output_dir: Path = Arg(..., help="Where to write the adjusted pipeline"),
    prior: Optional[Path] = Opt(
        None,
        "--prior",
        "-p",
        help="Training corpus (.spacy) whose class distribution is the prior (default: the corpus the model's config names in [paths] train)",
        exists=True,
        dir_okay=False,
    ),
    draws_log: Optional[Path] = Opt(
        None,
        "--draws-log",
        help="Take the prior from a hamr.v1 batcher log (log_path): the class shares of HAMR's draws. For a model trained on them (hamr.v1 batcher with resample = true) the default is the shares its meta.json records; without them it needs this or --corpus-prior",
        exists=True,
        dir_okay=False,
    ),
    corpus_prior: bool = Opt(
        False,
        "--corpus-prior",
        help="Use the training corpus's class distribution as the prior although the model was trained on the hamr.v1 batcher's resampled draws",
    ),
    component: Optional[str] = Opt(
        None, "--component", "-c", help="The textcat component, if the pipeline has several"
    ),
    # fmt: on
):
    """Choose tau (exclusive textcat: predict argmax z - tau log prior) or one
    threshold per label (textcat_multilabel) on the dev corpus for macro-F1,
    and write the pipeline with only its output bias changed: plain spaCy."""
    try:
        adjustment = adjust(model, dev_path, output_dir, prior, draws_log, component, corpus_prior)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Adjusted {adjustment.describe()}; wrote {output_dir}")


def adjust(
    model: Path,
    dev_path: Path,
    output_dir: Path,
    prior: Optional[Path] = None,
    draws_log: Optional[Path] = None,
    component: Optional[str] = None,
    corpus_prior: bool = False,
):
    """Adjust `model` on `dev_path` and write it to `output_dir`; return the Adjustment.
    A model trained on HAMR's resampled draws takes the draws' class shares as
    the prior: from draws_log, else from its meta.json, unless corpus_prior.
    Raises ValueError, before any work, where output_dir cannot be written, and
    for such a model whose meta.json records no shares given neither draws_log
    nor corpus_prior."""
    import spacy
    from spacy.training import Corpus

    from ..logit_adjustment.adjust import model_prior, plan_adjustment, textcat_component

    nlp = spacy.load(model)
    labels = list(nlp.get_pipe(textcat_component(nlp, component)).labels)
    shares, prior_name = model_prior(model, nlp, labels, prior, draws_log, corpus_prior)
    output_folder(output_dir)
    dev = list(Corpus(dev_path)(nlp))
    adjustment = plan_adjustment(
        nlp, dev, prior=shares, component=component, dev_name=str(dev_path), prior_name=prior_name
    )
    adjustment.apply()
    nlp.to_disk(output_dir)
    return adjustment
