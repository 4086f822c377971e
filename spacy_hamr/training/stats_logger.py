"""The `hamr.stats_logger.v1` logger for [training.logger]: HAMR's statistics
in spaCy's `info` at every evaluation, under `hamr.*` keys, for the loggers
after it in a `spacy.ChainLogger.v1` to send on (the W&B and MLflow loggers log
the `info` keys that match their `log_custom_stats`):

    [training.logger]
    @loggers = "spacy.ChainLogger.v1"
    logger1 = {"@loggers": "hamr.stats_logger.v1"}
    logger2 = {"@loggers": "spacy.MLflowLogger.v2", "log_custom_stats": ["hamr.*"]}
    logger3 = {"@loggers": "spacy.ConsoleLogger.v1"}

spaCy calls a logger at every step but fills `info` only at evaluations, so
each evaluation summarises the steps since the previous one:

    hamr.class_share.<class>       share of those steps' draws whose example carries the class
                                   (in the class name, characters other than letters, digits,
                                   _ . - and space become _, as MLflow's metric names need)
    hamr.weight_mean, hamr.weight_p10, hamr.weight_p90
                                   the loss weights the callback gave those draws
    hamr.meta_loss, hamr.hypergrad_rms, hamr.meta_steps, hamr.meta_skipped
                                   the meta steps among them (where there were any)

The weights and meta steps come from the hamr.v1 callback; with the batcher
alone there are the class shares.
"""

import re
import sys
from typing import IO, Callable, Dict, Optional, Tuple

from spacy.language import Language

from .epoch_stats import step_summary
from .shared_state import EVALUATION, DrawTally, HamrState, active_state

LogStep = Callable[[Optional[Dict]], None]
STATS_LOGGER_BLOCK = "[training.logger] hamr.stats_logger.v1"
PREFIX = "hamr."


def make_stats_logger() -> Callable[..., Tuple[LogStep, Callable[[], None]]]:
    """Create the logger (registered as `hamr.stats_logger.v1` in `@loggers`).
    It has no settings; put it first in a `spacy.ChainLogger.v1`, before the
    loggers that send its keys on."""

    def setup(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr):
        batcher = nlp.config["training"].get("batcher", {}).get("@batchers")
        if batcher != "hamr.v1":
            raise ValueError(
                f"{STATS_LOGGER_BLOCK} reports the statistics of the hamr.v1 batcher, but "
                f'[training.batcher] is {batcher!r}: set @batchers = "hamr.v1" there, or remove the logger.'
            )
        return StatsSummary().log_step, lambda: None

    return setup


class StatsSummary:
    """Follows the active training run's state; adds its summary to each evaluation's `info`."""

    def __init__(self) -> None:
        self.state: Optional[HamrState] = None
        self.since: Optional[DrawTally] = None  # the draws at the last evaluation
        self.names: Dict[str, str] = {}  # class -> its key

    def log_step(self, info: Optional[Dict]) -> None:
        state = active_state()
        if state is not self.state:  # the first step of a training run
            self.state, self.since = state, None
            self.names = {c: f"{PREFIX}class_share.{metric_name(c)}" for c in state.classes}
            state.step_log.follow(EVALUATION)
        if info is None:
            return
        shares = state.draw_shares(since=self.since)
        self.since = state.tally()
        info.update({name: shares.get(c, 0.0) for c, name in self.names.items()})
        steps = state.step_log.take(EVALUATION)
        steps.pop("loss_weight", None)  # the epoch log's sample for the report's plot
        info.update({PREFIX + key: value for key, value in step_summary(steps, None).items()})


def metric_name(label: str) -> str:
    """A class name as the trackers take it in a metric's name."""
    return re.sub(r"[^\w.\- ]", "_", label)
