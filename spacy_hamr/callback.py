"""The `hamr.v1` callback for [training.before_update]: one HAMR step around
spaCy's own update.

spaCy calls it after drawing a batch and before `nlp.update`. It reads the
batch from the batcher's state, decides the batch's loss weights (meta-learned
by default), hands them to the component adapters that scale the gradient
inside the update, and feeds the weights to the hardness the batcher samples by.

Meta step (every `meta_every` steps): the meta gradient g of the unweighted loss
on a meta batch; per-example training losses at theta +- h g/|g| give
<g, grad l_i> for the whole batch; dL_meta/dw_i = -inner_lr <g, grad l_i> / B
is back-propagated into the weight net. Between meta steps, the weights come
from each example's loss recorded at its last update.
"""
import random
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Literal, Optional, Sequence, get_args

import numpy
from spacy.language import Language
from spacy.pipeline import EntityRecognizer
from spacy.training import Example

from .components import LossBook, install
from .hardness import HARDNESS_RULES, HardnessName, global_decay
from .labels import balanced_prior, corpus_labels
from .lookahead import LossPass, TrainableParams, hypergradient
from .meta import check_meta_labels, read_meta_examples
from .scoring import with_macro_f
from .errors import HamrWarning, check_numbers
from .state import HamrState, active_state
from .weighting import MAX_WEIGHT, MIN_WEIGHT, WeightNet, batch_weights, make_optimizer, meta_step

BLOCK = "[training.before_update] hamr.v1"
# Typed as Literal so that spaCy's config validation names a bad value.
Weighting = Literal["meta", "none", "inverse_frequency", "class_weights"]
NerLoss = Literal["sum", "max"]
# The reference code's meta learning rates and hardness floors.
META_LR = {"textcat": 1e-4, "ner": 3e-4}
# Steps between meta steps (the reference: 1). NER's look-ahead passes cost about
# as much as a real update each, so it meta-steps half as often to stay within 1.5x.
META_EVERY = {"textcat": 8, "ner": 16}
HARDNESS_EPS = {"textcat": 1e-6, "ner": 1e-4}


def make_hamr_callback(
    weighting: Weighting = "meta",
    class_weights: Optional[Dict[str, float]] = None,
    power: Optional[float] = None,
    meta_path: Optional[Path] = None,
    meta_batch_size: int = 8,
    meta_every: Optional[int] = None,
    lookahead_size: int = 32,
    balance_meta: bool = False,
    inner_lr: float = 2e-4,
    meta_lr: Optional[float] = None,
    fd_step: float = 1e-4,
    hardness: HardnessName = "visit_ema",
    ner_loss: NerLoss = "sum",
    ner_macro_f: bool = True,
    seed: Optional[int] = None,
) -> Callable[[Language, Dict], None]:
    """Create the HAMR callback (registered as `hamr.v1` in `@callbacks`).

    weighting (str): "meta" learns the weights (HAMR); "none" trains unweighted
        and feeds the batcher the normalised loss as hardness (the "without
        meta-weighting" ablation); "inverse_frequency" weights each example by
        (N / (C n_c)) ** power of its class (rarest class for NER), a static
        baseline; "class_weights" applies the `class_weights` table.
    class_weights (Dict[str, float] or None): With weighting = "class_weights":
        label -> loss weight (unlisted labels weigh 1). It weights a textcat
        example by its gold category, a textcat_multilabel label's column, and
        the transitions of an entity type's entities in ner.
    power (float or None): With weighting = "inverse_frequency": the exponent
        of N / (C n_c); None is 1, 0.5 is square-root inverse frequency.
    meta_path (Path or None): A .spacy meta corpus; None uses the dev corpus.
    meta_batch_size (int): Meta examples per meta step (cycled, reference: 8).
    lookahead_size (int): The look-ahead's loss passes use at most this many
        examples of the batch (drawn at random); the net is trained on them and
        the rest of the batch is weighted by the net from their last losses.
    balance_meta (bool): Draw each meta batch class-balanced from the meta set
        (every class equally likely), instead of cycling through it.
    meta_every (int or None): Do a meta step every this many steps (the
        reference: 1); None takes 8 for textcat and 16 for ner. On
        cyclone_idai_2019, 4 and 8 gave the same quality (52.4 and 52.1 macro-F1
        over 3 seeds); each look-ahead costs three loss passes.
    inner_lr (float): eta of the virtual SGD step (reference: 2e-4).
    meta_lr (float or None): Adam learning rate of the weight net; None takes
        the reference's 1e-4 (textcat) or 3e-4 (ner).
    fd_step (float): Step along the unit meta gradient of the central difference;
        NER losses follow the predicted transitions and turn non-linear by 1e-3.
    hardness (str): "visit_ema" (default: measured better) or "global_decay" (reference).
    ner_loss (str): Per-document NER loss: "sum" of the transition NLL over
        parser states (what spaCy optimises) or "max" (the reference code).
    ner_macro_f (bool): Add `ents_macro_f` (mean per-type F) to NER scores, for
        [training.score_weights].
    seed (int or None): Seed of the weight net and meta batches; None derives
        it from [training] seed.
    """
    check_numbers(BLOCK, {"meta_batch_size": meta_batch_size, "meta_every": meta_every,
                          "lookahead_size": lookahead_size, "inner_lr": inner_lr, "meta_lr": meta_lr,
                          "fd_step": fd_step, "seed": seed, "power": power})
    check_numbers(f"{BLOCK} class_weights", dict(class_weights or {}))
    problems = check_class_weighting(weighting, class_weights, power)
    # spaCy's config validation checks the choices; these checks serve direct calls.
    for name, value, choices in [("weighting", weighting, Weighting), ("hardness", hardness, HardnessName),
                                 ("ner_loss", ner_loss, NerLoss)]:
        if value not in get_args(choices):
            problems.append(f"{name} must be one of {', '.join(get_args(choices))}, got {value!r}")
    for name, value in [("meta_batch_size", meta_batch_size), ("meta_every", meta_every),
                        ("lookahead_size", lookahead_size)]:
        if value is not None and value < 1:
            problems.append(f"{name} must be >= 1, got {value}")
    for name, value in [("inner_lr", inner_lr), ("fd_step", fd_step), ("meta_lr", meta_lr)]:
        if value is not None and not value > 0:
            problems.append(f"{name} must be > 0, got {value}")
    if problems:
        raise ValueError(f"{BLOCK}: " + "; ".join(problems))
    return HamrCallback(weighting=weighting, class_weights=dict(class_weights or {}),
                        power=1.0 if power is None else power, meta_path=meta_path, meta_batch_size=meta_batch_size,
                        meta_every=meta_every, lookahead_size=lookahead_size, balance_meta=balance_meta,
                        inner_lr=inner_lr, meta_lr=meta_lr, fd_step=fd_step,
                        hardness=hardness, ner_loss=ner_loss, ner_macro_f=ner_macro_f, seed=seed)


class HamrCallback:
    def __init__(self, **settings):
        self.settings = settings
        self.state: Optional[HamrState] = None
        self.book = LossBook()

    def __call__(self, nlp: Language, info: Dict) -> None:
        if self.state is None or self.state is not active_state():
            self._start(nlp)
        state = self.state
        self._harvest_losses()
        indices = numpy.asarray(state.current_batch, dtype="int64")
        batch = [state.examples[i] for i in indices]
        if self.settings["weighting"] == "meta" and info["step"] % self.meta_every == 0:
            weights, signal = self._meta_weights(nlp, batch, indices)
        else:
            weights, signal = self._plain_weights(indices)
        self.book.weights = {id(eg.reference): float(w) for eg, w in zip(batch, weights)}
        self.hardness_rule(state.hardness, indices, signal)
        state.last_weight[indices] = weights
        state.step_log["weight"].extend(weights.tolist())
        self._previous = (batch, indices)

    # -- set-up ---------------------------------------------------------------

    def _start(self, nlp: Language) -> None:
        self.state = state = active_state()
        training = nlp.config["training"]
        self.exclude = list(training.get("frozen_components", []))
        self.annotates = list(training.get("annotating_components", []))
        self.components = install(nlp, self.book, self.exclude, self.settings["ner_loss"])
        is_ner = any(isinstance(nlp.get_pipe(n), EntityRecognizer) for n in self.components)
        task = "ner" if is_ner else "textcat"
        if self.settings["ner_macro_f"]:
            for name in self.components:
                pipe = nlp.get_pipe(name)
                if isinstance(pipe, EntityRecognizer):
                    pipe.scorer = with_macro_f(pipe.scorer)
        seed = self.settings["seed"] if self.settings["seed"] is not None else random.getrandbits(32)
        self.rng = numpy.random.default_rng(seed)
        rule = HARDNESS_RULES[self.settings["hardness"]]
        self.hardness_rule = rule(eps=HARDNESS_EPS[task]) if rule is global_decay else rule()
        self.meta_every = self.settings["meta_every"] or META_EVERY[task]
        self._previous = ([], numpy.zeros(0, dtype="int64"))
        state.harvest = self._harvest_losses
        if self.settings["weighting"] == "inverse_frequency":
            self.static_weights = inverse_frequency_weights(state, self.settings["power"])
        if self.settings["weighting"] == "class_weights":
            check_class_labels(self.settings["class_weights"], nlp, self.components)
            self.book.class_weights = self.settings["class_weights"]
            table = ", ".join(f"{label} {w:g}" for label, w in sorted(self.book.class_weights.items()))
            print(f"[hamr] Class weights: {table} (other labels 1)", flush=True)
        if self.settings["weighting"] == "meta":
            self.params = TrainableParams(nlp, self.exclude)
            self.loss_pass = make_loss_pass(nlp, self.book, self.params, self.exclude, self.annotates)
            self.meta = read_meta_examples(nlp, self.settings["meta_path"])
            check_meta_labels(state.labels, self.meta)
            if self.settings["balance_meta"]:
                self._meta_prior = balanced_prior(corpus_labels([eg.reference for eg in self.meta]), power=0.0)
            self._meta_order: List[int] = []
            self.net = WeightNet(seed)
            self.optimizer = make_optimizer(self.net, self.settings["meta_lr"] or META_LR[task])

    # -- weights ------------------------------------------------------------

    def _harvest_losses(self) -> None:
        """Keep the losses the last real update recorded: next visit's weights use them."""
        batch, indices = self._previous
        self.state.record_visits(indices, self.book.take_losses(batch))
        self._previous = ([], numpy.zeros(0, dtype="int64"))

    def _plain_weights(self, indices: numpy.ndarray):
        weighting = self.settings["weighting"]
        if weighting == "inverse_frequency":
            weights = self.static_weights[indices]
            return weights, weights
        losses = filled(self.state.last_loss[indices])
        if weighting in ("none", "class_weights"):
            # Class weights act inside the adapters; hardness follows the loss.
            ratio = losses / max(float(losses.mean()), 1e-12)
            return numpy.ones(len(indices)), numpy.clip(ratio, MIN_WEIGHT, MAX_WEIGHT)
        weights = batch_weights(self.net, losses)
        return weights, weights

    def _meta_weights(self, nlp: Language, batch: List[Example], indices: numpy.ndarray):
        size = min(self.settings["lookahead_size"], len(batch))
        sample = numpy.sort(self.rng.choice(len(batch), size=size, replace=False))
        outcome = self._lookahead(nlp, [batch[i] for i in sample])
        if outcome is None:
            return self._plain_weights(indices)
        losses, hypergrad, meta_loss = outcome
        self.state.last_loss[indices[sample]] = losses
        _, sample_weights = meta_step(self.net, self.optimizer, losses, hypergrad)
        self.state.step_log["meta_loss"].append(meta_loss)
        self.state.step_log["loss_weight"].extend(zip(losses.tolist(), sample_weights.tolist()))
        weights = batch_weights(self.net, filled(self.state.last_loss[indices]))
        return weights, weights

    def _lookahead(self, nlp: Language, batch: List[Example]):
        self.book.weights = {}  # side passes are unweighted
        outcome = hypergradient(self.loss_pass, self.params, batch, self._next_meta_batch(),
                                self.settings["fd_step"], self.settings["inner_lr"])
        if isinstance(outcome, str):
            warnings.warn(f"Meta step skipped ({outcome}); this batch keeps its previous weights.",
                          HamrWarning)
            return None
        return outcome

    def _next_meta_batch(self) -> List[Example]:
        size = min(self.settings["meta_batch_size"], len(self.meta))
        if self.settings["balance_meta"]:
            chosen = self.rng.choice(len(self.meta), size=size, replace=False, p=self._meta_prior)
            return [self.meta[i] for i in chosen]
        if len(self._meta_order) < size:
            self._meta_order += self.rng.permutation(len(self.meta)).tolist()
        chosen, self._meta_order = self._meta_order[:size], self._meta_order[size:]
        return [self.meta[i] for i in chosen]


def make_loss_pass(nlp: Language, book: LossBook, params: TrainableParams,
                   exclude: Sequence[str] = (), annotates: Sequence[str] = ()) -> LossPass:
    """Per-example losses (and the summed sparse gradient) at the current parameters, applying nothing."""

    def loss_pass(examples: List[Example], with_gradients: bool = False):
        if annotates:
            nlp.update(examples, drop=0.0, sgd=False, losses={}, exclude=exclude, annotates=annotates)
        else:
            # nlp.update without annotating components, less its copy of every example:
            # Example() re-reads the words of both docs, a third of a BOW textcat's pass.
            batch = own_predicted_docs(examples)
            for name, pipe in nlp.pipeline:
                if name not in exclude and hasattr(pipe, "update"):
                    pipe.update(batch, drop=0.0, sgd=None, losses={})
        losses = book.take_losses(examples)
        grads = params.sparse_gradients() if with_gradients else None
        params.zero_gradients()
        return losses, grads

    return loss_pass


def own_predicted_docs(examples: List[Example]) -> List[Example]:
    """The examples, copied where a predicted Doc repeats (a batch drawn with
    replacement): the ner adapter tells parser states apart by their Doc."""
    seen = set()
    out = []
    for eg in examples:
        if id(eg.predicted) in seen:
            eg = Example(eg.predicted.copy(), eg.reference)
        seen.add(id(eg.predicted))
        out.append(eg)
    return out


def filled(losses: numpy.ndarray) -> numpy.ndarray:
    """Unknown losses (never updated yet) count as the batch average: z = 0."""
    known = numpy.isfinite(losses)
    return numpy.where(known, losses, losses[known].mean() if known.any() else 0.0)


def inverse_frequency_weights(state: HamrState, power: float = 1.0) -> numpy.ndarray:
    """(N / (C n_c)) ** power of each example's (rarest) class, over the whole corpus."""
    prior = balanced_prior(state.labels, power=0.0)  # 1 / (C n_c) per example
    return (prior * len(state)) ** power


def check_class_weighting(weighting: str, class_weights: Optional[Dict[str, float]],
                          power: Optional[float]) -> List[str]:
    """Problems with the class weighting settings: each belongs to one weighting,
    and is never silently ignored."""
    problems = []
    if weighting == "class_weights" and not class_weights:
        problems.append('weighting = "class_weights" needs a class_weights table, e.g. '
                        'class_weights = {"rare_label": 5.0} (unlisted labels weigh 1)')
    if class_weights and weighting != "class_weights":
        problems.append(f'class_weights only applies with weighting = "class_weights", not {weighting!r}')
    if power is not None and weighting != "inverse_frequency":
        problems.append(f'power only applies with weighting = "inverse_frequency", not {weighting!r}')
    if isinstance(power, (int, float)) and not 0 <= power < float("inf"):
        problems.append(f"power must be finite and >= 0, got {power}")
    bad = [f"{label} = {value}" for label, value in (class_weights or {}).items()
           if isinstance(value, (int, float)) and not (0 <= value < float("inf"))]
    if bad:
        problems.append(f"class weights must be finite and >= 0, got {', '.join(bad)}")
    return problems


def check_class_labels(class_weights: Dict[str, float], nlp: Language, components: Sequence[str]) -> None:
    """Refuse a class_weights label that no weighted component predicts."""
    known = sorted({label for name in components for label in nlp.get_pipe(name).labels})
    unknown = [label for label in class_weights if label not in known]
    if unknown:
        raise ValueError(f"{BLOCK}: class_weights names {', '.join(map(repr, unknown))}, which "
                         f"{', '.join(components)} does not predict. Its labels: {', '.join(known)}.")

