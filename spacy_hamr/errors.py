"""What spacy-hamr tells the user about bad settings and worked-around trouble."""
from numbers import Real
from typing import Dict


class HamrWarning(UserWarning):
    """What HAMR works around but the user should know (a meta set lacking a
    training class, a skipped meta step): filter it with `warnings.filterwarnings`."""


def check_numbers(where: str, settings: Dict[str, object]) -> None:
    """Refuse numeric settings that are not numbers; None (a default) passes.

    confection accepts a quoted number ("0.5", e.g. from an override
    `--training.batcher.alpha '"0.5"'`) for a float or int setting but passes
    the string on, where the range checks would fail with a TypeError.

    where (str): The config block and function, e.g. "[training.batcher] hamr.v1".
    settings (Dict[str, object]): Setting name -> value as given.
    """
    problems = [f"{name} must be a number, got {_describe(value)}" for name, value in settings.items()
                if value is not None and (isinstance(value, bool) or not isinstance(value, Real))]
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{value!r} ({type(value).__name__})"
