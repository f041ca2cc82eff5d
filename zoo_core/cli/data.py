"""``zoo data``: a data set's summary and examples grid."""

from __future__ import annotations

import json

import click

from .options import SEED, get_registry, json_stdout, registry_option


@click.command()
@click.argument("name", metavar="NAME|NAME:ARG")
@click.option("--image-size", type=click.IntRange(min=4), help="Resize to NxN on the way in, as --set image_size=N does for training.")
@click.option("--out", type=click.Path(dir_okay=False), help="The examples grid, FILE.png (default: data-NAME.png here).")
@click.option("--crop", is_flag=True, help="Cut each image to its centred square first, as --set crop=true does.")
@click.option("--num", type=click.IntRange(min=1), default=64, show_default=True, help="Examples in the grid.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Which examples.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@registry_option
def data(name, image_size, crop, out, num, seed, as_json, registry_files):
    """Show a data set as zoo sees it: counts, shape, pixel range, classes, source, and a PNG of examples.

    NAME is a data set (zoo list datasets), e.g. fashion-mnist, folder:~/pictures, npz:data.npz.
    """
    from ..data.show import format_summary, show

    with json_stdout(as_json) as echo:
        result = show(get_registry(registry_files), name, image_size=image_size, out=out, num=num, seed=seed,
                      echo=echo, crop=crop)
        echo(json.dumps(result, indent=2) if as_json else format_summary(result))
