"""What spacy-hamr tells the user about worked-around trouble, and the config
blocks its messages name."""

# The config blocks of the registered training functions, as error messages name them.
BATCHER_BLOCK = "[training.batcher] hamr.v1"
CALLBACK_BLOCK = "[training.before_update] hamr.v1"
LOGIT_ADJUSTMENT_BLOCK = "[training.before_to_disk] hamr.logit_adjustment.v1"


class HamrWarning(UserWarning):
    """What HAMR works around but the user should know (a meta set lacking a
    training class, a skipped meta step): filter it with `warnings.filterwarnings`."""
