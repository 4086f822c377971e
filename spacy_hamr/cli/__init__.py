"""`spacy hamr ...` commands (registered through the `spacy_cli` entry point).

`python -m spacy_hamr ...` runs the same commands.
"""

from ._util import hamr_cli
from .adjust import adjust, adjust_cli
from .compare import compare, compare_cli
from .convert import convert, convert_cli
from .find_label_errors import find_label_errors_cli
from .hard_examples import hard_examples, hard_examples_cli
from .make_meta import make_meta, make_meta_cli
from .variant_config import variant_config_cli, write_variant_config

__all__ = [
    "hamr_cli",
    "adjust",
    "adjust_cli",
    "compare",
    "compare_cli",
    "convert",
    "convert_cli",
    "find_label_errors_cli",
    "hard_examples",
    "hard_examples_cli",
    "make_meta",
    "make_meta_cli",
    "write_variant_config",
    "variant_config_cli",
]
