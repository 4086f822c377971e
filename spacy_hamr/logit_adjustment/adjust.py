"""Post-hoc logit adjustment of a trained text classifier, folded into its output bias.

Exclusive textcat (Menon et al., ICLR 2021, "Long-tail learning via logit
adjustment"): predict argmax_c (z_c - tau log pi_c), with pi the training
corpus's class distribution and tau chosen on dev for macro-F1. Every exclusive
textcat architecture of spaCy ends in a layer with a bias (`Softmax`, or
`SparseLinear` then softmax), and softmax is shift-invariant per example, so
b_c <- b_c - tau log pi_c is exactly that rule, stored in the model. A
`textcat` whose model has exclusive_classes = false scores each label with a
sigmoid but still predicts the argmax, and a sigmoid keeps the order of the
logits, so the same shift is the same rule for it.

textcat_multilabel: each label is a sigmoid with the component's threshold t0;
a per-label threshold t_j chosen on dev for that label's F1 is the bias shift
b_j <- b_j + logit(t0) - logit(t_j). A textcat_multilabel whose model has
exclusive_classes = true (one softmax over the labels) is refused: a label's
shift would move every other label's score.

Nothing else changes, so the adjusted pipeline is plain spaCy. The choice is
made from the dev predictions once: shifting the bias by delta turns a
prediction p into softmax(log p + delta) (sigmoid(logit p + delta) for
scores per label), which `check_output_bias` verifies on the model before any change.
"""

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy
import srsly
from spacy.language import Language
from spacy.pipeline import MultiLabel_TextCategorizer, TextCategorizer
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Config, Model

from ..corpus import read_docs
from ..errors import HamrWarning
from ..labels import class_counts
from ..textcat_output import exclusive_classes_block, scores_per_label

# tau grid for exclusive textcat: 0 (no adjustment) to 2 (twice Menon et al.'s tau = 1).
TAUS = numpy.round(numpy.arange(0.0, 2.0001, 0.05), 2)
# Threshold grid for multilabel.
THRESHOLDS = numpy.round(numpy.arange(0.05, 0.951, 0.05), 2)
# Activations after the output bias that have no parameters of their own.
ACTIVATIONS = ("softmax_activation", "logistic")
# Docs used to verify that the bias found is the logits' bias.
CHECK_DOCS = 32


@dataclass
class Adjustment:
    """What `choose_adjustment` found: the bias shift and the dev macro-F1 it gives."""

    component: str
    layer: Model = field(repr=False)  # the layer whose bias takes the shift
    delta: numpy.ndarray  # per label, in the pipe's label order
    before: float  # dev macro-F1 (points) without the shift
    after: float  # and with it
    tau: Optional[float] = None  # exclusive textcat
    prior: Dict[str, float] = field(default_factory=dict)  # exclusive textcat: the class prior tau scales
    prior_name: Optional[str] = None  # where the prior comes from
    thresholds: Dict[str, float] = field(default_factory=dict)  # multilabel
    softmax: bool = False  # whether the labels share one softmax (else one sigmoid each)

    def describe(self) -> str:
        chosen = (
            f"tau = {self.tau:g}"
            if self.tau is not None
            else "thresholds " + ", ".join(f"{k} {v:g}" for k, v in self.thresholds.items())
        )
        text = f"{self.component}: {chosen}; dev macro-F1 {self.before:.1f} -> {self.after:.1f}"
        if self.prior:
            source = f" from {self.prior_name}" if self.prior_name else ""
            text += f"; prior{source}: " + ", ".join(f"{c} {p:.3f}" for c, p in self.prior.items())
        return text

    def apply(self) -> None:
        """Write the shift into the component's output bias."""
        shift_bias(self.layer, self.delta)

    def predictions(self, probs: numpy.ndarray) -> numpy.ndarray:
        """What the adjusted component predicts for docs it predicted `probs` for (N, labels)."""
        return shifted(probs, self.delta, self.softmax)


def textcat_component(nlp: Language, name: Optional[str] = None) -> str:
    """The textcat or textcat_multilabel component to adjust: `name`, or the only one."""
    found = [n for n, pipe in nlp.pipeline if isinstance(pipe, TextCategorizer)]
    if name is not None:
        if name not in found:
            raise ValueError(
                f"[hamr] No textcat component called {name!r}; the pipeline's textcat "
                f"components: {', '.join(found) or 'none'}."
            )
        return name
    if not found:
        raise ValueError(
            f"[hamr] The pipeline ({', '.join(nlp.pipe_names)}) has no textcat or "
            "textcat_multilabel component to adjust."
        )
    if len(found) > 1:
        raise ValueError(
            f"[hamr] The pipeline has several textcat components ({', '.join(found)}): "
            "name the one to adjust (component)."
        )
    return found[0]


def architecture(nlp: Language, name: str) -> str:
    return nlp.config["components"][name].get("model", {}).get("@architectures", "an unnamed architecture")


def output_bias_layer(nlp: Language, name: str) -> Model:
    """The layer whose bias `b` is the bias of the component's output logits:
    the last layer of the model, looking through combinators and past a final
    parameter-free activation."""
    pipe = nlp.get_pipe(name)
    node = pipe.model
    while node.layers:
        last = node.layers[-1]
        if len(node.layers) > 1 and _is_activation(last):
            last = node.layers[-2]
        node = last
    if not (node.has_param("b") and node.has_dim("nO") and node.get_dim("nO") == len(pipe.labels)):
        raise ValueError(
            f"[hamr] Component {name!r} ({architecture(nlp, name)}) has no output layer with a "
            f"bias over its {len(pipe.labels)} labels, so its logits cannot be adjusted."
        )
    return node


def _is_activation(node: Model) -> bool:
    nodes = list(node.walk())
    return not any(n.param_names for n in nodes) and any(n.name in ACTIVATIONS for n in nodes)


def class_prior(docs: Sequence[Doc], labels: Sequence[str]) -> numpy.ndarray:
    """The class distribution of a corpus over `labels` (add-one smoothed)."""
    counts = class_counts(docs)
    prior = numpy.array([counts.get(label, 0) + 1.0 for label in labels])
    return prior / prior.sum()


def draws_prior(log_path, labels: Sequence[str]) -> numpy.ndarray:
    """The class distribution of HAMR's draws: the class shares of a batcher
    log (log_path), averaged over its epochs."""
    shares = [line["class_share"] for line in srsly.read_jsonl(log_path) if "class_share" in line]
    if not shares:
        raise ValueError(f"[hamr] {log_path} has no class shares: it is not a hamr.v1 batcher log.")
    return shares_prior(shares, labels)


def shares_prior(shares: Sequence[Dict[str, float]], labels: Sequence[str]) -> numpy.ndarray:
    """The mean of class shares (one mapping per epoch, or one for all draws)
    as a distribution over `labels`; a class never drawn gets a share of 1e-6."""
    prior = numpy.array([numpy.mean([s.get(label, 0.0) for s in shares]) for label in labels]) + 1e-6
    return prior / prior.sum()


def trained_on_draws(config: Config) -> bool:
    """Whether `config` trains on the hamr.v1 batcher's resampled draws, whose
    class distribution is not the training corpus's (so neither is the prior)."""
    batcher = config["training"].get("batcher", {})
    return batcher.get("@batchers") == "hamr.v1" and batcher.get("resample", True) is not False


# The key of a pipeline's meta (meta.json) under which the hamr.v1 callback
# records the class shares of the draws it was trained on.
META_KEY = "hamr"


def record_draw_shares(nlp: Language, shares: Dict[str, float]) -> None:
    """Record the class shares of the draws (`HamrState.draw_shares`) in the
    pipeline's meta, which spaCy saves as meta.json and loads back."""
    nlp.meta[META_KEY] = {"draw_shares": shares}


def recorded_draw_shares(meta: Dict) -> Optional[Dict[str, float]]:
    """The class shares of the draws that a pipeline's meta records; None if it
    records none (trained before they were recorded, or not on HAMR's draws)."""
    return meta.get(META_KEY, {}).get("draw_shares") or None


def model_prior(
    model: Path,
    nlp: Language,
    labels: Sequence[str],
    prior_path: Optional[Path] = None,
    draws_log: Optional[Path] = None,
    corpus_prior: bool = False,
) -> Tuple[numpy.ndarray, str]:
    """The class prior (over `labels`) to adjust the pipeline `nlp`, saved at `model`, by, and
    where it comes from. A model trained on HAMR's resampled draws learned their class
    distribution: the draws' class shares from draws_log, else those its meta.json records,
    unless corpus_prior. Otherwise the class distribution of prior_path, or of the training
    corpus its config names. Raises ValueError, naming the option to give, where the prior
    is not to be had or the options contradict each other."""
    if prior_path is not None and draws_log is not None:
        raise ValueError("Give the prior as --prior (a training corpus) or --draws-log, not both.")
    if corpus_prior and draws_log is not None:
        raise ValueError("--corpus-prior takes the training corpus's distribution: leave out --draws-log.")
    if draws_log is not None:
        return draws_prior(draws_log, labels), f"the draws' class shares in {draws_log}"
    if not corpus_prior and trained_on_draws(nlp.config):
        meta_path = Path(model) / "meta.json"
        recorded = recorded_draw_shares(nlp.meta)
        trained = f"{model} was trained on the hamr.v1 batcher's resampled draws ([training.batcher] resample = true)"
        if recorded is None:
            raise ValueError(
                f"{trained}, so the class distribution it learned is that of the draws, not of the training "
                f"corpus, and {meta_path} records none of their class shares (the hamr.v1 callback records "
                "them): give --draws-log with the batcher's log (its log_path file), or add --corpus-prior to "
                "adjust with the training corpus's distribution all the same."
            )
        if prior_path is not None:
            raise ValueError(
                f"{trained}, and {meta_path} records their class shares, the prior it is adjusted with by "
                "default: leave out --prior, or add --corpus-prior to take the corpus's distribution instead."
            )
        return shares_prior([recorded], labels), f"the draws' class shares in {meta_path}"
    train_path = prior_path or nlp.config["paths"].get("train")
    if not train_path or not Path(train_path).is_file():
        raise ValueError(
            f"The model's config names no training corpus that exists ({train_path}): give it with --prior."
        )
    return class_prior(read_docs(train_path, nlp.vocab), labels), str(train_path)


def predict(nlp: Language, examples: Sequence[Example], labels: Sequence[str]) -> Tuple[List[Example], numpy.ndarray]:
    """The examples with the pipeline's predictions, and the (N, labels) scores."""
    docs = nlp.pipe([eg.predicted.copy() for eg in examples])
    predicted = [Example(doc, eg.reference) for doc, eg in zip(docs, examples)]
    return predicted, numpy.array([[eg.predicted.cats.get(label, 0.0) for label in labels] for eg in predicted])


def is_exclusive(pipe: TextCategorizer) -> bool:
    """True for `textcat` (predicts the likeliest label), False for textcat_multilabel (thresholds)."""
    return not isinstance(pipe, MultiLabel_TextCategorizer)


def check_output_kind(nlp: Language, name: str) -> None:
    """Refuse a textcat_multilabel whose labels share one softmax: a per-label
    threshold cannot be moved alone through the output bias."""
    pipe = nlp.get_pipe(name)
    if not is_exclusive(pipe) and not scores_per_label(pipe):
        raise ValueError(
            f"[hamr] {name!r} is a textcat_multilabel whose model has exclusive_classes = true "
            f"({exclusive_classes_block(nlp, name)}): its labels share one softmax, so one label's "
            "threshold cannot be moved alone through the output bias. Train it with exclusive_classes "
            "= false, or use `textcat` for exclusive classes."
        )


def shifted(probs: numpy.ndarray, delta: numpy.ndarray, softmax: bool) -> numpy.ndarray:
    """The predictions a bias shift `delta` turns `probs` into: one softmax over
    the labels, or (softmax False) one sigmoid per label."""
    if softmax:
        logits = numpy.log(numpy.maximum(probs, 1e-30)) + delta
        logits -= logits.max(axis=1, keepdims=True)
        out = numpy.exp(logits)
        return out / out.sum(axis=1, keepdims=True)
    p = numpy.clip(probs, 1e-7, 1 - 1e-7)
    return 1.0 / (1.0 + numpy.exp(-(numpy.log(p / (1 - p)) + delta)))


def textcat_scores(pipe: TextCategorizer, examples: Sequence[Example], probs: numpy.ndarray) -> Dict:
    """spaCy's own textcat scores of `examples` with the predictions `probs`."""
    labels = list(pipe.labels)
    for eg, row in zip(examples, probs):
        eg.predicted.cats.update({label: float(p) for label, p in zip(labels, row)})
    multilabel = not is_exclusive(pipe)
    return Scorer.score_cats(
        examples,
        "cats",
        labels=labels,
        multi_label=multilabel,
        threshold=pipe.cfg.get("threshold", 0.5) if multilabel else None,
    )


def choose_adjustment(
    pipe: TextCategorizer,
    layer: Model,
    predicted: Sequence[Example],
    probs: numpy.ndarray,
    prior: numpy.ndarray,
    prior_name: Optional[str] = None,
) -> Adjustment:
    """The bias shift that maximises dev macro-F1 (tau over TAUS; multilabel: each
    label's threshold over THRESHOLDS, ties going to the component's own), from
    the dev predictions `probs`; prior_name: where the prior comes from."""
    labels = list(pipe.labels)
    before = 100 * textcat_scores(pipe, predicted, probs)["cats_macro_f"]
    if is_exclusive(pipe):
        log_prior = numpy.log(prior)
        softmax = not scores_per_label(pipe)
        scores = [
            100 * textcat_scores(pipe, predicted, shifted(probs, -tau * log_prior, softmax))["cats_macro_f"]
            for tau in TAUS
        ]
        best = int(numpy.argmax(scores))  # the smallest tau among equals
        tau = float(TAUS[best])
        shares = {label: float(p) for label, p in zip(labels, prior)}
        return Adjustment(
            pipe.name,
            layer,
            -tau * log_prior,
            before,
            scores[best],
            tau=tau,
            prior=shares,
            prior_name=prior_name,
            softmax=softmax,
        )
    t0 = float(pipe.cfg.get("threshold", 0.5))
    logit = lambda t: numpy.log(t / (1 - t))  # noqa: E731
    delta = numpy.zeros(len(labels))
    thresholds = {}
    for j, label in enumerate(labels):
        per_label = []
        for t in THRESHOLDS:
            trial = delta.copy()
            trial[j] = logit(t0) - logit(t)
            scores = textcat_scores(pipe, predicted, shifted(probs, trial, False))
            per_label.append(scores["cats_f_per_type"][label]["f"])
        order = sorted(range(len(THRESHOLDS)), key=lambda k: (-per_label[k], abs(THRESHOLDS[k] - t0)))
        thresholds[label] = float(THRESHOLDS[order[0]])
        delta[j] = logit(t0) - logit(thresholds[label])
    after = 100 * textcat_scores(pipe, predicted, shifted(probs, delta, False))["cats_macro_f"]
    return Adjustment(pipe.name, layer, delta, before, after, thresholds=thresholds)


def check_dev_labels(dev: Sequence[Example], pipe: TextCategorizer, dev_name: Optional[str] = None) -> None:
    """Refuse a dev corpus with none of the component's labels; warn of the
    labels it lacks (the rare class is the likeliest to be missing)."""
    labels = list(pipe.labels)
    gold = set(class_counts([eg.reference for eg in dev]))
    corpus = f"The dev corpus {dev_name}" if dev_name else "The dev corpus"
    if not gold & set(labels):
        raise ValueError(
            f"[hamr] {corpus} has none of {pipe.name!r}'s labels ({', '.join(labels)}), so nothing can be chosen on it."
        )
    missing = [label for label in labels if label not in gold]
    if missing:
        effect = (
            "its macro-F1 counts every prediction of them as wrong, so the adjustment is chosen against them"
            if is_exclusive(pipe)
            else f"their thresholds stay at {pipe.name!r}'s own ({float(pipe.cfg.get('threshold', 0.5)):g})"
        )
        warnings.warn(
            f"[hamr] {corpus} has no example of {', '.join(missing)}: {effect}. A dev corpus with "
            "every class lets the adjustment be chosen for all of them.",
            HamrWarning,
        )


def shift_bias(layer: Model, delta: numpy.ndarray) -> None:
    """Add delta (host array, per label) to the layer's bias, on the layer's device."""
    layer.set_param("b", layer.get_param("b") + layer.ops.asarray1f(delta.astype("float32")))


@contextmanager
def shifted_bias(layer: Model, delta: numpy.ndarray) -> Iterator[None]:
    """The output bias shifted by delta inside the block, restored exactly after."""
    original = layer.get_param("b").copy()
    shift_bias(layer, delta)
    try:
        yield
    finally:
        layer.set_param("b", original)


def check_output_bias(nlp: Language, name: str, sample: Sequence[Example], before: numpy.ndarray, layer: Model) -> None:
    """Refuse a model whose output bias does not act as logit biases: a small
    shift must change the predictions `before` of `sample` as `shifted` says."""
    pipe = nlp.get_pipe(name)
    probe = numpy.linspace(-0.5, 0.5, len(pipe.labels))
    with shifted_bias(layer, probe):
        _, after = predict(nlp, sample, pipe.labels)
    if not numpy.allclose(after, shifted(before, probe, not scores_per_label(pipe)), atol=1e-3):
        raise ValueError(
            f"[hamr] The output bias of {name!r} ({architecture(nlp, name)}) does not act "
            "on the output logits, so logit adjustment cannot be folded into it."
        )


def dev_predictions(
    nlp: Language, dev: Sequence[Example], component: Optional[str] = None, dev_name: Optional[str] = None
) -> Tuple[TextCategorizer, Model, List[Example], numpy.ndarray]:
    """What an adjustment is chosen from: the component, its output-bias layer, and its
    predictions on `dev` (examples and (N, labels) scores), after checking that the
    component's output bias can take the adjustment."""
    name = textcat_component(nlp, component)
    pipe = nlp.get_pipe(name)
    check_output_kind(nlp, name)
    layer = output_bias_layer(nlp, name)
    if not dev:
        raise ValueError("[hamr] The dev corpus is empty: the adjustment is chosen on it.")
    check_dev_labels(dev, pipe, dev_name)
    predicted, probs = predict(nlp, dev, pipe.labels)
    check_output_bias(nlp, name, dev[:CHECK_DOCS], probs[:CHECK_DOCS], layer)
    return pipe, layer, predicted, probs


def plan_adjustment(
    nlp: Language,
    dev: Sequence[Example],
    prior: Optional[numpy.ndarray] = None,
    train: Optional[Sequence[Doc]] = None,
    component: Optional[str] = None,
    dev_name: Optional[str] = None,
    prior_name: Optional[str] = None,
) -> Adjustment:
    """Choose the adjustment on `dev`, changing nothing: `Adjustment.apply` writes
    it into the component's output bias.

    prior: the class distribution (label order of the component); None takes it
    from the `train` docs. Only exclusive textcat uses it. dev_name, prior_name:
    where dev and the prior come from, for the messages.
    """
    pipe, layer, predicted, probs = dev_predictions(nlp, dev, component, dev_name)
    if prior is None:
        if train is None:
            raise ValueError("[hamr] Logit adjustment needs the class prior: give the training corpus.")
        prior = class_prior(train, pipe.labels)
    return choose_adjustment(pipe, layer, predicted, probs, numpy.asarray(prior, dtype="float64"), prior_name)
