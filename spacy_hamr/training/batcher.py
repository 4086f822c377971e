"""The `hamr.v1` batcher: what the model sees.

A drop-in for `spacy.batch_by_words.v1` / `spacy.batch_by_padded.v1`: it
takes their sizing settings and batches the same way, but each epoch it first
draws ceil(oversampling * N) examples with replacement from

    p_i ~ (h_i + 1e-6) ** alpha * (1 + boost_weight * b_i)

where h is the hardness the `hamr.v1` callback feeds (uniform until then) and
b the neighbour boost, refreshed every `boost_every` epochs from the
`seed_fraction` hardest examples and their `n_neighbors` nearest neighbours.
"""

import os
import random
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import numpy
import srsly
from spacy.training import Example
from spacy.training.batchers import configure_minibatch_by_words

from ..errors import BATCHER_BLOCK, HamrWarning
from ..labels import NO_LABEL, balanced_prior
from ..resampling.embedders import make_tfidf_embedder
from ..resampling.neighbors import EXACT_SEARCH_LIMIT, Embedder, NeighbourBoost
from ..resampling.sampling import draw_epoch, epoch_draws, sampling_probabilities
from ..threads import thread_counts
from ..util import check_numbers, status
from .epoch_stats import draw_statistics, format_statistics, step_summary
from .padded_batches import configure_minibatch_by_padded_size
from .shared_state import EPOCH, HamrState, activate
from .state_file import write_state

Sizing = Union[Sequence[int], int]
Batcher = Callable[[Iterable[Example]], Iterator[List[Example]]]

# The reference code's lambda: 0.7 for classification, 0.1 for NER.
TEXTCAT_BOOST_WEIGHT = 0.7
NER_BOOST_WEIGHT = 0.1
# Base rate per class ~ n_c ** power. Textcat: class-balanced. NER: square-root,
# since a sentence stands for its rarest entity type, and balancing those
# over-draws the sentences of rare types at the expense of the frequent types'
# contexts (measured on three NER corpora: docs/exploration.md#the-ner-base-rate).
TEXTCAT_CLASS_POWER = 0.0
NER_CLASS_POWER = 0.5


def configure_hamr_batcher(
    size: Sizing,
    tolerance: float = 0.2,
    discard_oversize: bool = False,
    get_length: Optional[Callable[[Example], int]] = None,
    buffer: Optional[int] = None,
    alpha: float = 0.7,
    boost_weight: Optional[float] = None,
    seed_fraction: float = 0.1,
    n_neighbors: int = 10,
    boost_every: int = 1,
    oversampling: float = 1.2,
    class_power: Optional[float] = None,
    resample: bool = True,
    embedder: Optional[Embedder] = None,
    exact_search_limit: int = EXACT_SEARCH_LIMIT,
    seed: Optional[int] = None,
    log_path: Optional[Path] = None,
    state_path: Optional[Path] = None,
) -> Batcher:
    """Create the HAMR batcher (registered as `hamr.v1` in `@batchers`).

    size (int or Sequence[int]): Words per batch (or padded size, with
        `buffer`); a schedule such as `compounding.v1` works as in spaCy.
    tolerance (float): As in `batch_by_words`: how far a batch may exceed `size`.
    discard_oversize (bool): Drop examples that alone exceed the size. With
        `buffer`, only those: spaCy's `batch_by_padded` also drops every batch
        that fills the size exactly (`spacy_hamr.training.padded_batches`).
    get_length (Callable or None): Length of an example; `len` by default.
    buffer (int or None): If set, batch like `batch_by_padded` with this
        buffer (size = longest example x batch length); else like `batch_by_words`.
    alpha (float): Hardness exponent; 0 ignores hardness.
    boost_weight (float or None): lambda, the neighbour boost's weight; None
        takes the reference value, 0.7 for textcat and 0.1 for NER corpora.
        0 switches the boost off. The boost needs the hardness that the hamr.v1
        callback feeds: without it the boost is off, with a warning when set here.
    seed_fraction (float): rho in (0, 1], share of hardest examples used as seeds.
    n_neighbors (int): k, neighbours per seed (a seed counts as its own neighbour).
    boost_every (int): Refresh the boost every this many epochs.
    oversampling (float): Draws per epoch as a multiple of the corpus size.
    class_power (float or None): Base rate per class proportional to
        n_c ** class_power, multiplied by the hardness terms: 0 starts from
        class-balanced sampling, 0.5 square-root sampling, 1 the corpus
        distribution (the reference code's choice, which measured worse on
        imbalanced text classification). None: 0 for textcat corpora, 0.5 for NER.
    resample (bool): False trains on spaCy's shuffled corpus once per epoch
        (the "without resampling" ablation); the callback still sees each batch.
    embedder (Callable or None): Embeds the training examples for the boost;
        None uses `hamr.tfidf_embedder.v1` (offline, fitted on the corpus).
    exact_search_limit (int): Corpus size up to which neighbours are searched
        exactly; above it an approximate IVF index is used.
    seed (int or None): Seed of the draws; None derives it from [training] seed.
    log_path (Path or None): Append each epoch's statistics (draws, class
        shares, weights, meta loss, sampled loss/weight pairs) to this JSONL file.
    state_path (Path or None): At the end of every epoch, write what HAMR
        learned about each training example (hardness, losses per epoch, last
        weight) to this .npz file, for `spacy hamr hard-examples`.
    """
    numbers = {
        "tolerance": tolerance,
        "buffer": buffer,
        "alpha": alpha,
        "boost_weight": boost_weight,
        "seed_fraction": seed_fraction,
        "n_neighbors": n_neighbors,
        "boost_every": boost_every,
        "oversampling": oversampling,
        "class_power": class_power,
        "exact_search_limit": exact_search_limit,
        "seed": seed,
    }
    if isinstance(size, str):  # confection lets a quoted size through as a sequence of digits
        numbers["size"] = size
    check_numbers(BATCHER_BLOCK, numbers)
    _check_ranges(numbers)
    if buffer is not None:
        sizer = configure_minibatch_by_padded_size(
            size=size, buffer=buffer, discard_oversize=discard_oversize, get_length=get_length
        )
    else:
        sizer = configure_minibatch_by_words(
            size=size, tolerance=tolerance, discard_oversize=discard_oversize, get_length=get_length
        )
    return HamrBatcher(
        sizer,
        alpha=alpha,
        boost_weight=boost_weight,
        seed_fraction=seed_fraction,
        n_neighbors=n_neighbors,
        boost_every=boost_every,
        oversampling=oversampling,
        class_power=class_power,
        resample=resample,
        embedder=embedder or make_tfidf_embedder(),
        exact_search_limit=exact_search_limit,
        seed=seed,
        log_path=_writable_file("log_path", log_path, "hamr.jsonl"),
        state_path=_writable_file("state_path", state_path, "hamr_state.npz"),
    )


def _check_ranges(numbers: Dict[str, Any]) -> None:
    """Refuse settings out of their range; numbers: setting name -> value, numbers checked."""
    alpha, boost_weight, seed_fraction = numbers["alpha"], numbers["boost_weight"], numbers["seed_fraction"]
    n_neighbors, boost_every, oversampling = numbers["n_neighbors"], numbers["boost_every"], numbers["oversampling"]
    class_power = numbers["class_power"]
    problems = []
    if alpha < 0:
        problems.append(f"alpha must be >= 0, got {alpha}")
    if boost_weight is not None and boost_weight < 0:
        problems.append(f"boost_weight must be >= 0, got {boost_weight}")
    if not 0 < seed_fraction <= 1:
        problems.append(f"seed_fraction must be in (0, 1], got {seed_fraction}")
    if n_neighbors < 1:
        problems.append(f"n_neighbors must be >= 1, got {n_neighbors}")
    if boost_every < 1:
        problems.append(f"boost_every must be >= 1, got {boost_every}")
    if not oversampling > 0:
        problems.append(f"oversampling must be > 0, got {oversampling}")
    if class_power is not None and class_power < 0:
        problems.append(f"class_power must be >= 0, got {class_power}")
    if problems:
        raise ValueError(f"{BATCHER_BLOCK}: " + "; ".join(problems))


def _writable_file(setting: str, value: Optional[Union[str, Path]], example: str) -> Optional[Path]:
    """An output file that can be made: it is first written after epoch 0, so
    fail when the config is resolved; nothing is created until training starts."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        raise ValueError(
            f"{BATCHER_BLOCK}: {setting} {path} is a directory; it must name a file, e.g. {path / example}."
        )
    existing = next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        why = "is not a folder" if not existing.is_dir() else "is not writable"
        raise ValueError(f"{BATCHER_BLOCK}: {setting} {path} cannot be written ({existing} {why}).")
    return path


def _create_file(setting: str, path: Optional[Path]) -> None:
    """Make the output file and its folder, when training starts."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError as err:
        raise ValueError(f"{BATCHER_BLOCK}: {setting} {path} cannot be written ({err}).") from err


class HamrBatcher:
    """Called by spaCy once per epoch with the shuffled training examples."""

    def __init__(
        self,
        sizer: Batcher,
        *,
        alpha: float,
        boost_weight: Optional[float],
        seed_fraction: float,
        n_neighbors: int,
        boost_every: int,
        oversampling: float,
        class_power: Optional[float],
        resample: bool,
        embedder: Embedder,
        exact_search_limit: int,
        seed: Optional[int],
        log_path: Optional[Path],
        state_path: Optional[Path],
    ):
        self.sizer = sizer
        self.alpha = alpha
        self.boost_weight = boost_weight
        self.boost_every = boost_every
        self.oversampling = oversampling
        self.class_power = class_power
        self.resample = resample
        self.seed = seed
        self.log_path = log_path
        self.state_path = state_path
        self.state = HamrState()
        self.prior: Optional[numpy.ndarray] = None
        self._held_out_prior: Optional[tuple] = None  # (held-out mask, prior without them)
        self._rng: Optional[numpy.random.Generator] = None
        # The batcher alone (the advice for text classification) has no hardness and so no
        # boost by design; only a boost_weight the user set asks for one, and hears why not.
        self._warn_uniform = boost_weight is not None
        self._booster = NeighbourBoost(embedder, seed_fraction, n_neighbors, exact_search_limit)

    def __call__(self, examples: Iterable[Example]) -> Iterator[List[Example]]:
        if not isinstance(examples, list):
            raise ValueError(
                "[hamr.v1] The batcher got a streaming corpus ([training] max_epochs = -1). "
                "HAMR resamples the whole corpus every epoch: set max_epochs >= 0 "
                "(0 trains until max_steps or patience stop it)."
            )
        activate(self.state)
        self.state.bind(examples)
        if self._rng is None:
            self._start(examples)
        drawn = self._draw(examples)
        yielded: List[int] = []
        state = self.state
        epoch_start = state.tally()
        for batch in self.sizer([state.examples[i] for i in drawn]):
            indices = state.indices_of(batch)
            # Held-out examples (the callback's meta set) are never trained on. Epoch 0
            # was drawn before the callback chose them, so they are dropped here too.
            keep = state.trainable(indices)
            if len(keep) < len(indices):
                batch, indices = [batch[k] for k in keep], [indices[k] for k in keep]
                if not batch:
                    continue
            state.current_batch, state.current_examples = indices, batch
            state.count_draws(indices)
            yield batch
            # After spaCy's update on it: without what the callback held out of the first batch.
            yielded.extend(state.current_batch)
        self._end_epoch(numpy.asarray(yielded, dtype="int64"), state.draw_shares(since=epoch_start))

    def _start(self, examples: List[Example]) -> None:
        # spaCy seeds Python's `random` from [training] seed before training,
        # so drawing our seed from it makes the draws follow that setting.
        _create_file("log_path", self.log_path)
        _create_file("state_path", self.state_path)
        threads = ", ".join(f"{pool} {count}" for pool, count in thread_counts().items())
        status(f"[hamr] Threads: {threads} (the TF-IDF SVD and the weight net run on one)")
        seed = self.seed if self.seed is not None else random.getrandbits(32)
        self._rng = numpy.random.default_rng(seed)
        self._booster.seed = seed
        # The embedder runs at the first boost, after epoch 0: check now what it
        # can check (e.g. the row count of precomputed vectors), before any update.
        check_embedder = getattr(self._booster.embedder, "check", None)
        if check_embedder is not None:
            check_embedder(examples)
        textcat = self.state.textcat
        if self.boost_weight is None:
            self.boost_weight = TEXTCAT_BOOST_WEIGHT if textcat else NER_BOOST_WEIGHT
        if self.class_power is None:
            self.class_power = TEXTCAT_CLASS_POWER if textcat else NER_CLASS_POWER
        if self.class_power != 1.0:
            self.prior = balanced_prior(self.state.labels, self.class_power)
            if textcat and self.resample:
                self._name_unlabelled()

    def _name_unlabelled(self) -> None:
        """Warn of textcat examples without a positive category: the class-balanced
        prior draws them as a class of their own, whatever their number."""
        state = self.state
        unlabelled = [i for i, classes in enumerate(state.labels) if classes == [NO_LABEL]]
        if not unlabelled:
            return
        shown = ", ".join(repr(state.examples[i].reference.text[:40]) for i in unlabelled[:3])
        more = f" and {len(unlabelled) - 3} more" if len(unlabelled) > 3 else ""
        warnings.warn(
            f"{len(unlabelled)} of {len(state)} training examples have no positive category ({shown}{more}). "
            f"The class-balanced sampling (class_power = {self.class_power:g}) draws them as a class of their own, "
            f"{NO_LABEL!r}, which starts with {self.prior[unlabelled].sum():.0%} of the draws for "
            f"{len(unlabelled) / len(state):.0%} of the corpus. With `textcat` (exclusive classes) every doc "
            "needs one positive category (`spacy debug data` flags the others): fix their annotation. With "
            "`textcat_multilabel` they are legal negatives, balanced as that class.",
            HamrWarning,
        )

    def _draw(self, examples: List[Example]) -> numpy.ndarray:
        state = self.state
        if not self.resample:
            indices = state.indices_of(examples)
            return numpy.asarray([indices[k] for k in state.trainable(indices)], dtype="int64")
        if state.epoch > 0 and state.epoch % self.boost_every == 0 and self.boost_weight > 0:
            self._refresh_boost()
        p = sampling_probabilities(state.hardness, state.boost, self.alpha, self.boost_weight, self._base_rate())
        return draw_epoch(self._rng, p, epoch_draws(int(len(state) - state.held_out.sum()), self.oversampling))

    def _base_rate(self) -> Optional[numpy.ndarray]:
        """The class base rate over the examples that may be trained on, times the
        learned class rates where they act on sampling; `self.prior` itself when
        nothing is held out and no rates act on sampling."""
        state = self.state
        prior = self._trainable_prior() if state.any_held_out else self.prior
        rates = state.class_rates
        if rates is not None and rates.on_sampling:
            prior = (prior if prior is not None else 1.0) * rates.sampling_factors()
        return prior

    def _trainable_prior(self) -> numpy.ndarray:
        """Zero for held-out examples; the class balance recomputed over the rest, so
        that a class that gave examples to the meta set keeps its share of draws."""
        held_out = self.state.held_out
        if self._held_out_prior is None or not numpy.array_equal(self._held_out_prior[0], held_out):
            keep = numpy.flatnonzero(~held_out)
            prior = numpy.zeros(len(held_out))
            if self.class_power != 1.0:
                prior[keep] = balanced_prior([self.state.labels[i] for i in keep], self.class_power)
            else:
                prior[keep] = 1.0 / len(keep)
            self._held_out_prior = (held_out.copy(), prior)
        return self._held_out_prior[1]

    def _refresh_boost(self) -> None:
        hardness = self.state.hardness
        if numpy.ptp(hardness) <= 1e-12 * hardness.max():
            # Without the callback every example is equally hard: seeds would be arbitrary.
            if self._warn_uniform:
                warnings.warn(
                    "Hardness is uniform (no hamr.v1 callback feeding it): the neighbour boost stays off.", HamrWarning
                )
                self._warn_uniform = False  # once per run
            return
        self.state.boost = self._booster(self.state.examples, hardness)

    def _end_epoch(self, yielded: numpy.ndarray, class_share: Dict[str, float]) -> None:
        self.state.close_epoch()
        if self.state_path is not None:
            write_state(self.state_path, self.state, resampled=self.resample)
        stats = draw_statistics(self.state.epoch, yielded, len(self.state), class_share)
        if self.state.class_rates is not None:
            # Learned from this epoch's meta steps; they act from the next epoch's draw on.
            stats["class_rates"] = self.state.class_rates.end_epoch()
        stats.update(step_summary(self.state.step_log.take(EPOCH), numpy.random.default_rng(self.state.epoch)))
        stats["threads"] = thread_counts()
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf8") as file_:
                file_.write(srsly.json_dumps(stats) + "\n")
        # One unwrapped line per epoch, between the rows of spaCy's training table.
        status(format_statistics(stats))
        self.state.epoch += 1
