"""The ``zoo`` command line: one module per command group, each a table of
contents of what its commands do, calling into the parts below.

- :mod:`.options`: the group's error handling and the options commands share;
- :mod:`.catalog`: ``zoo list``, ``info``, ``plugins``, ``new-plugin``, ``doctor``
  (with :mod:`.listing` and :mod:`.scaffold`);
- :mod:`.train`: ``zoo build``, ``train``;
- :mod:`.evaluate`: ``zoo sample``, ``eval``, ``plot``;
- :mod:`.share`: ``zoo export``;
- :mod:`.data`: ``zoo data``.

A new command goes into the module of its group (or a new one), and is
added to the group below. ``zoo --help`` and ``zoo list`` import no Keras:
every command imports what it needs when it runs.
"""

from __future__ import annotations

import click

from ..version import __version__
from . import catalog, compare, data, evaluate, share, sweep, train
from .options import ZooGroup


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoo")
def cli():
    """zoo: train, compare and extend generative models on Keras 3.

    Models, losses, data sets and presets come from plugins; see what is
    installed with 'zoo list'.
    """


for command in (catalog.list_, catalog.info, train.build, train.train, data.data, evaluate.sample,
                evaluate.eval_, share.export, evaluate.plot, compare.compare, sweep.sweep, catalog.plugins, catalog.new_plugin, catalog.doctor):
    cli.add_command(command)


def main():
    cli(prog_name="zoo")


if __name__ == "__main__":
    main()
