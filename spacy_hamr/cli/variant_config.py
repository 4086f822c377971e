"""`spacy hamr variant-config`: a config for one run of the comparison."""

from pathlib import Path

from typer import Argument as Arg
from wasabi import msg

from ..experiments.variants import VARIANTS
from ._util import hamr_cli


@hamr_cli.command("variant-config")
def variant_config_cli(
    # fmt: off
    base_path: Path = Arg(..., help="A config, e.g. from `spacy init config`", exists=True, dir_okay=False),
    variant: str = Arg(..., help=f"One of: {', '.join(VARIANTS)}"),
    output_path: Path = Arg(..., help="Where to write the variant's config"),
    # fmt: on
):
    """Write the base config with one run's [training.batcher] and
    [training.before_update] blocks: full HAMR, an ablation or a static baseline."""
    try:
        write_variant_config(base_path, variant, output_path)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Wrote {output_path} ({variant})")


def write_variant_config(base_path: Path, variant: str, output_path: Path) -> None:
    from thinc.api import Config

    from ..experiments.variants import variant_config

    variant_config(Config().from_disk(base_path, interpolate=False), variant).to_disk(output_path)
