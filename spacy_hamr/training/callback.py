"""The `hamr.v1` callback for [training.before_update]: one HAMR step around
spaCy's own update.

spaCy calls it after drawing a batch and before `nlp.update`. It reads the
batch from the batcher's state, decides the batch's loss weights (meta-learned
by default), hands them to the component adapters that scale the gradient
inside the update, and feeds the weights to the hardness the batcher samples by.
A textcat trained on the batcher's resampled draws gets their class shares so
far in its meta, saved with every checkpoint: the prior `spacy hamr adjust` takes.

Meta step (every `meta_every` steps): the meta gradient g of the unweighted loss
on a meta batch; per-example training losses at theta +- h g/|g| give
<g, grad l_i> for the whole batch; dL_meta/dw_i = -inner_lr <g, grad l_i> / B
(L_meta: the meta batch's summed loss)
is back-propagated into the weight net. Between meta steps, the weights come
from each example's loss recorded at its last update.

Optionally (`meta_set = "balanced"`) the meta set is the dev set topped up
with training examples, which are then held out of training, and the meta
loss is the macro loss; and (`class_rates`) the hypergradients, summed per
class over each epoch, teach one rate per class (spacy_hamr/meta_weighting/class_rates.py).
"""

import random
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, get_args

import numpy
from spacy.language import Language
from spacy.pipeline import EntityRecognizer
from spacy.training import Example

from ..corpus import check_corpus_path
from ..errors import CALLBACK_BLOCK, HamrWarning
from ..labels import balanced_prior, corpus_labels, doc_labels, label_counts, macro_loss_weights, primary_labels
from ..logit_adjustment.adjust import record_draw_shares, trained_on_draws
from ..meta_weighting.class_rates import ClassRates, ClassRatesMode
from ..meta_weighting.lookahead import LossPass, TrainableParams, hypergradient
from ..meta_weighting.loss_adapters import LossBook, install
from ..meta_weighting.meta_set import balanced_meta_indices, check_meta_labels, read_meta_examples
from ..meta_weighting.weight_net import MAX_WEIGHT, MIN_WEIGHT
from ..meta_weighting.weighting import (
    ClassWeights,
    InverseFrequency,
    MetaLearned,
    Unweighted,
    WeightingStrategy,
    check_class_weighting,
)
from ..resampling.hardness import HARDNESS_RULES, HardnessName, global_decay
from ..util import check_numbers, status
from .scoring import with_macro_f
from .shared_state import HamrState, active_state

# Typed as Literal so that spaCy's config validation names a bad value.
Weighting = Literal["meta", "none", "inverse_frequency", "class_weights"]
NerLoss = Literal["sum", "max"]
MetaSet = Literal["dev", "balanced"]
MetaLoss = Literal["mean", "macro"]
WeightDecay = Literal["coupled", "decoupled"]
# A balanced meta set takes at most this share of a class's training examples.
META_MAX_SHARE = 0.5
# The reference code's meta learning rates and (global_decay) hardness floors.
META_LR = {"textcat": 1e-4, "ner": 3e-4}
# Steps between meta steps (the reference: 1). NER's look-ahead passes cost about
# as much as a real update each, so it meta-steps half as often to stay within 1.5x.
META_EVERY = {"textcat": 8, "ner": 16}
GLOBAL_DECAY_FLOOR = {"textcat": 1e-6, "ner": 1e-4}


def make_hamr_callback(
    weighting: Weighting = "meta",
    class_weights: Optional[Dict[str, float]] = None,
    power: Optional[float] = None,
    meta_path: Optional[Path] = None,
    meta_batch_size: int = 8,
    meta_every: Optional[int] = None,
    lookahead_size: int = 32,
    balance_meta: bool = False,
    meta_set: MetaSet = "dev",
    meta_loss: Optional[MetaLoss] = None,
    class_rates: ClassRatesMode = "off",
    class_rate_lr: float = 0.1,
    inner_lr: float = 2e-4,
    meta_lr: Optional[float] = None,
    meta_weight_decay: float = 1e-4,
    meta_decay: WeightDecay = "coupled",
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
    meta_set (str): "dev" (default): the meta corpus as it is. "balanced": the
        meta corpus topped up with training examples until each class reaches
        the median per-class count of the meta corpus (at most half of a
        class's training examples); the moved examples are held out of training
        (never drawn, also with resample = false), and the meta loss becomes
        the macro loss (mean over classes of each class's mean loss; NER: over
        entity types). The log names what was moved per class.
    meta_loss (str or None): "mean" or "macro" (mean over classes of each
        class's mean loss) of the meta batch; None: "macro" with meta_set =
        "balanced", else "mean".
    class_rates (str): Meta-learn one rate per class from the class-summed
        hypergradient, updated at the end of each epoch: "off" (default);
        "loss" multiplies each example's loss weight by its class's rate;
        "sampling" multiplies the batcher's base rate of the class at the next
        draw; "both". With weighting = "none" the meta steps still run, for the
        rates alone. The log shows the rates every epoch.
    class_rate_lr (float): Step of the log-rates per epoch, per unit of the
        class sum's signal-to-noise ratio (capped at 3).
    meta_every (int or None): Do a meta step every this many steps (the
        reference: 1); None takes 8 for textcat and 16 for ner: each look-ahead
        costs three loss passes, and meta-stepping less often measured as well
        (docs/exploration.md#hardness-rule-base-rate-and-meta-step-frequency).
    inner_lr (float): eta of the virtual SGD step (reference: 2e-4).
    meta_lr (float or None): Adam learning rate of the weight net; None takes
        the reference's 1e-4 (textcat) or 3e-4 (ner).
    meta_weight_decay (float): Weight decay of the weight net's optimiser
        (reference: 1e-4; 0 switches it off).
    meta_decay (str): "coupled" (default, the reference's Adam: the decay is
        added to the gradient, where at 1e-4 it is as large as the
        hypergradient) or "decoupled" (AdamW: the decay shrinks the weights
        directly and leaves Adam's step to the hypergradient).
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
    check_numbers(
        CALLBACK_BLOCK,
        {
            "meta_batch_size": meta_batch_size,
            "meta_every": meta_every,
            "lookahead_size": lookahead_size,
            "inner_lr": inner_lr,
            "meta_lr": meta_lr,
            "fd_step": fd_step,
            "seed": seed,
            "power": power,
            "class_rate_lr": class_rate_lr,
            "meta_weight_decay": meta_weight_decay,
        },
    )
    check_numbers(f"{CALLBACK_BLOCK} class_weights", dict(class_weights or {}))
    problems = check_class_weighting(weighting, class_weights, power)
    problems += check_meta_learning(weighting, meta_set, class_rates, class_rate_lr, meta_weight_decay)
    problems += check_corpus_path("meta_path", meta_path)
    if meta_loss is not None and weighting != "meta" and class_rates == "off":
        problems.append(f'meta_loss = {meta_loss!r} needs meta steps: weighting = "meta" or class_rates on')
    # spaCy's config validation checks the choices; these checks serve direct calls.
    for name, value, choices in [
        ("weighting", weighting, Weighting),
        ("hardness", hardness, HardnessName),
        ("ner_loss", ner_loss, NerLoss),
        ("meta_set", meta_set, MetaSet),
        ("meta_loss", meta_loss or "mean", MetaLoss),
        ("class_rates", class_rates, ClassRatesMode),
        ("meta_decay", meta_decay, WeightDecay),
    ]:
        if value not in get_args(choices):
            problems.append(f"{name} must be one of {', '.join(get_args(choices))}, got {value!r}")
    for name, value in [
        ("meta_batch_size", meta_batch_size),
        ("meta_every", meta_every),
        ("lookahead_size", lookahead_size),
    ]:
        if value is not None and value < 1:
            problems.append(f"{name} must be >= 1, got {value}")
    for name, value in [("inner_lr", inner_lr), ("fd_step", fd_step), ("meta_lr", meta_lr)]:
        if value is not None and not value > 0:
            problems.append(f"{name} must be > 0, got {value}")
    if problems:
        raise ValueError(f"{CALLBACK_BLOCK}: " + "; ".join(problems))
    return HamrCallback(
        CallbackSettings(
            weighting=weighting,
            class_weights=dict(class_weights or {}),
            power=1.0 if power is None else power,
            meta_path=meta_path,
            meta_batch_size=meta_batch_size,
            meta_every=meta_every,
            lookahead_size=lookahead_size,
            balance_meta=balance_meta,
            meta_set=meta_set,
            meta_loss=meta_loss or ("macro" if meta_set == "balanced" else "mean"),
            class_rates=class_rates,
            class_rate_lr=class_rate_lr,
            inner_lr=inner_lr,
            meta_lr=meta_lr,
            meta_weight_decay=meta_weight_decay,
            meta_decay=meta_decay,
            fd_step=fd_step,
            hardness=hardness,
            ner_loss=ner_loss,
            ner_macro_f=ner_macro_f,
            seed=seed,
        )
    )


@dataclass(frozen=True)
class CallbackSettings:
    """The hamr.v1 callback's settings, checked, as `make_hamr_callback`
    documents them; `power` and `meta_loss` have their defaults filled in.
    `meta_every` and `meta_lr` (None: by task) are filled in by `for_task`
    once the pipeline shows the task."""

    weighting: Weighting
    class_weights: Dict[str, float]
    power: float
    meta_path: Optional[Path]
    meta_batch_size: int
    meta_every: Optional[int]
    lookahead_size: int
    balance_meta: bool
    meta_set: MetaSet
    meta_loss: MetaLoss
    class_rates: ClassRatesMode
    class_rate_lr: float
    inner_lr: float
    meta_lr: Optional[float]
    meta_weight_decay: float
    meta_decay: WeightDecay
    fd_step: float
    hardness: HardnessName
    ner_loss: NerLoss
    ner_macro_f: bool
    seed: Optional[int]

    def for_task(self, task: str) -> "CallbackSettings":
        """The settings with the task's meta_every and meta_lr where they are None."""
        return replace(self, meta_every=self.meta_every or META_EVERY[task], meta_lr=self.meta_lr or META_LR[task])


class HamrCallback:
    """Set up at its first step (`_start`), when the batcher's state and the
    pipeline are known; set up again when a new training run's batcher takes over."""

    def __init__(self, settings: CallbackSettings):
        self.configured = settings
        # The configured settings with the task's defaults filled in, at each set-up.
        self.settings = settings
        self.state: Optional[HamrState] = None
        self.book = LossBook()
        # Known at the first step: the pipeline's components, the seeded draws, the strategies.
        self.exclude: List[str] = []
        self.annotates: List[str] = []
        self.components: List[str] = []
        self.rng: Optional[numpy.random.Generator] = None
        self.hardness_rule: Optional[Callable[..., Any]] = None
        self.weighting: Optional[WeightingStrategy] = None
        # The look-ahead runs for the weight net, for the class rates, or both.
        self.learns = False
        # A textcat trained on the batcher's resampled draws: its meta records their class shares.
        self.records_prior = False
        self._previous: Tuple[List[Example], numpy.ndarray] = ([], numpy.zeros(0, dtype="int64"))
        # With the look-ahead only: its parameters and loss pass, and the meta set and its draws.
        self.params: Optional[TrainableParams] = None
        self.loss_pass: Optional[LossPass] = None
        self.meta: List[Example] = []
        self._meta_prior: Optional[numpy.ndarray] = None
        self._meta_order: List[int] = []

    def __call__(self, nlp: Language, info: Dict) -> None:
        if self.state is None or self.state is not active_state():
            self._start(nlp)
        state = self.state
        self._harvest_losses()
        if self.records_prior:  # as of this batch's draw: every checkpoint saves what it was trained on
            record_draw_shares(nlp, state.draw_shares())
        indices = numpy.asarray(state.current_batch, dtype="int64")
        if not len(indices):  # the first batch held nothing but held-out examples
            return
        batch = [state.examples[i] for i in indices]
        if self.learns and info["step"] % self.settings.meta_every == 0:
            weights, signal = self._meta_weights(nlp, batch, indices)
        else:
            weights, signal = self._plain_weights(indices)
        if state.class_rates is not None and state.class_rates.on_loss:
            # w_i = c_y r(z_i); the hardness keeps following r(z_i), the example's own part.
            weights = numpy.clip(weights * state.class_rates.loss_factors(indices), MIN_WEIGHT, MAX_WEIGHT)
        self.book.weights = {id(eg.reference): float(w) for eg, w in zip(batch, weights)}
        self.hardness_rule(state.hardness, indices, signal)
        state.last_weight[indices] = weights
        state.step_log.add("weight", weights.tolist())
        self._previous = (batch, indices)

    # -- set-up ---------------------------------------------------------------

    def _start(self, nlp: Language) -> None:
        self.state = state = active_state()
        training = nlp.config["training"]
        self.exclude = list(training.get("frozen_components", []))
        self.annotates = list(training.get("annotating_components", []))
        self.components = install(nlp, self.book, self.exclude, self.configured.ner_loss)
        is_ner = any(isinstance(nlp.get_pipe(n), EntityRecognizer) for n in self.components)
        task = "ner" if is_ner else "textcat"
        self.settings = settings = self.configured.for_task(task)
        if settings.ner_macro_f:
            for name in self.components:
                pipe = nlp.get_pipe(name)
                if isinstance(pipe, EntityRecognizer):
                    pipe.scorer = with_macro_f(pipe.scorer)
        seed = settings.seed if settings.seed is not None else random.getrandbits(32)
        self.rng = numpy.random.default_rng(seed)
        rule = HARDNESS_RULES[settings.hardness]
        self.hardness_rule = rule(eps=GLOBAL_DECAY_FLOOR[task]) if rule is global_decay else rule()
        self._previous = ([], numpy.zeros(0, dtype="int64"))
        state.harvest = self._harvest_losses
        self.records_prior = state.textcat and trained_on_draws(nlp.config)
        self.weighting = self._make_weighting(nlp, seed)
        self.learns = self.weighting.learns or settings.class_rates != "off"
        if self.learns:
            self.params = TrainableParams.of_pipeline(nlp, self.exclude)
            self.loss_pass = make_loss_pass(nlp, self.book, self.params, self.exclude, self.annotates)
            self.meta = read_meta_examples(nlp, settings.meta_path)
            if settings.meta_set == "balanced":
                self.meta += self._hold_out_for_meta(self.meta, seed)
            check_meta_labels(state.labels, self.meta)
            if settings.balance_meta:
                self._meta_prior = balanced_prior(corpus_labels([eg.reference for eg in self.meta]), power=0.0)
            self._meta_order = []
            if settings.class_rates != "off":
                state.class_rates = ClassRates(
                    state.labels, settings.class_rate_lr, settings.class_rates, (MIN_WEIGHT, MAX_WEIGHT)
                )

    def _make_weighting(self, nlp: Language, seed: int) -> WeightingStrategy:
        """The `weighting` setting's object (spacy_hamr/meta_weighting/weighting.py)."""
        settings = self.settings
        if settings.weighting == "inverse_frequency":
            return InverseFrequency(self.state.labels, settings.power)
        if settings.weighting == "class_weights":
            return ClassWeights(settings.class_weights, nlp, self.components, self.book)
        if settings.weighting == "meta":
            return MetaLearned(
                seed, settings.meta_lr, settings.meta_weight_decay, decoupled=settings.meta_decay == "decoupled"
            )
        return Unweighted()

    def _hold_out_for_meta(self, meta: List[Example], seed: int) -> List[Example]:
        """The training examples that top the meta set up to balance, now held out of training."""
        state = self.state
        train = [eg.reference for eg in state.examples]
        moved = balanced_meta_indices(train, [eg.reference for eg in meta], seed, max_share=META_MAX_SHARE)
        state.hold_out(moved)
        primary = primary_labels(state.labels)
        per_class = label_counts([[primary[i]] for i in moved])
        available = label_counts([[c] for c in primary])
        detail = ", ".join(f"{c} {per_class[c]} of {available[c]}" for c in sorted(per_class)) or "nothing"
        status(
            f"[hamr] Balanced meta set: {len(meta)} meta examples + {len(moved)} moved from training "
            f"and held out of it ({detail}); meta loss: {self.settings.meta_loss}"
        )
        return [state.examples[i] for i in moved]

    # -- weights ------------------------------------------------------------

    def _harvest_losses(self) -> None:
        """Keep the losses the last real update recorded: next visit's weights use them."""
        batch, indices = self._previous
        self.state.record_visits(indices, self.book.take_visit(batch))
        self._previous = ([], numpy.zeros(0, dtype="int64"))

    def _plain_weights(self, indices: numpy.ndarray):
        return self.weighting.weights(indices, filled(self.state.last_loss[indices]))

    def _meta_weights(self, nlp: Language, batch: List[Example], indices: numpy.ndarray):
        size = min(self.settings.lookahead_size, len(batch))
        sample = numpy.sort(self.rng.choice(len(batch), size=size, replace=False))
        outcome = self._lookahead(nlp, [batch[i] for i in sample])
        if outcome is None:
            return self._plain_weights(indices)
        losses, hypergrad, meta_loss = outcome
        self.state.last_loss[indices[sample]] = losses
        if self.state.class_rates is not None:
            self.state.class_rates.accumulate(indices[sample], hypergrad)
        if self.weighting.learns:
            self.weighting.learn(losses, hypergrad, self.state.step_log)
        self.state.step_log.add("meta_loss", [meta_loss])
        # How hard the meta loss pulls on this batch's weights: the log shows whether the net can move.
        self.state.step_log.add("hypergrad_rms", [float(numpy.sqrt(numpy.mean(numpy.square(hypergrad))))])
        return self._plain_weights(indices)

    def _lookahead(self, nlp: Language, batch: List[Example]):
        self.book.weights = {}  # side passes are unweighted
        meta_batch = self._next_meta_batch()
        meta_weights = None
        if self.settings.meta_loss == "macro":
            meta_weights = macro_loss_weights([doc_labels(eg.reference, self.state.textcat) for eg in meta_batch])
        outcome = hypergradient(
            self.loss_pass, self.params, batch, meta_batch, self.settings.fd_step, self.settings.inner_lr, meta_weights
        )
        if isinstance(outcome, str):
            warnings.warn(f"Meta step skipped ({outcome}); this batch keeps its previous weights.", HamrWarning)
            self.state.step_log.add("meta_skipped", [outcome])
            return None
        return outcome

    def _next_meta_batch(self) -> List[Example]:
        size = min(self.settings.meta_batch_size, len(self.meta))
        if self.settings.balance_meta:
            chosen = self.rng.choice(len(self.meta), size=size, replace=False, p=self._meta_prior)
            return [self.meta[i] for i in chosen]
        if len(self._meta_order) < size:
            self._meta_order += self.rng.permutation(len(self.meta)).tolist()
        chosen, self._meta_order = self._meta_order[:size], self._meta_order[size:]
        return [self.meta[i] for i in chosen]


def make_loss_pass(
    nlp: Language, book: LossBook, params: TrainableParams, exclude: Sequence[str] = (), annotates: Sequence[str] = ()
) -> LossPass:
    """Per-example losses (and the summed sparse gradient) at the current parameters, applying nothing."""

    def loss_pass(examples: List[Example], with_gradients: bool = False, weights: Optional[numpy.ndarray] = None):
        saved = book.weights
        if weights is not None:
            # Weighted for this pass only (the macro meta loss); the ± passes stay unweighted.
            book.weights = {id(eg.reference): float(w) for eg, w in zip(examples, weights)}
        try:
            if annotates:
                nlp.update(examples, drop=0.0, sgd=False, losses={}, exclude=exclude, annotates=annotates)
            else:
                # nlp.update without annotating components, less its copy of every example:
                # Example() re-reads the words of both docs, a third of a BOW textcat's pass.
                batch = own_predicted_docs(examples)
                for name, pipe in nlp.pipeline:
                    if name not in exclude and hasattr(pipe, "update"):
                        pipe.update(batch, drop=0.0, sgd=None, losses={})
        finally:
            book.weights = saved
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


def check_meta_learning(
    weighting: str, meta_set: str, class_rates: str, class_rate_lr: float, meta_weight_decay: float
) -> List[str]:
    """Problems with the meta-learning settings: none is silently ignored."""
    problems = []
    if class_rates != "off" and weighting not in ("meta", "none"):
        problems.append(f'class_rates applies with weighting = "meta" or "none", not {weighting!r}')
    if meta_set != "dev" and weighting != "meta" and class_rates == "off":
        problems.append(f'meta_set = {meta_set!r} needs meta steps: weighting = "meta" or class_rates on')
    if isinstance(class_rate_lr, (int, float)) and not 0 < class_rate_lr < float("inf"):
        problems.append(f"class_rate_lr must be finite and > 0, got {class_rate_lr}")
    if isinstance(meta_weight_decay, (int, float)) and not 0 <= meta_weight_decay < float("inf"):
        problems.append(f"meta_weight_decay must be finite and >= 0, got {meta_weight_decay}")
    return problems
