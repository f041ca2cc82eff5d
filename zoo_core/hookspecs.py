"""zoo's hook specifications.

Every hook takes no required arguments and returns a list of spec objects
(see :mod:`zoo_core.specs`). zoo flattens the lists, remembers which plugin
gave each spec, and fails loudly when two plugins use the same name.
Hooks may gain optional arguments later: pluggy passes an implementation only
the arguments it names, so existing plugins keep working.

Every hook is documented, with its signature and an example, in
docs/plugins.md; tests/test_plugins.py fails when one is not, or has no
``test_hook_<name>`` test.
"""

from __future__ import annotations

import pluggy

from .specs import DatasetSpec, LossSpec, ModelSpec, PresetSpec, TrackerSpec

PROJECT = "zoo"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# === Building blocks ===


@hookspec
def zoo_models() -> list[ModelSpec]:
    """Return the models this plugin provides."""


@hookspec
def zoo_losses() -> list[LossSpec]:
    """Return the losses this plugin provides; any plugin's model may use them."""


@hookspec
def zoo_datasets() -> list[DatasetSpec]:
    """Return the data sets this plugin provides."""


# === Recipes ===


@hookspec
def zoo_presets() -> list[PresetSpec]:
    """Return ready-to-train presets (model + dataset + loss + settings)."""


# === Tracking ===


@hookspec
def zoo_trackers() -> list[TrackerSpec]:
    """Return the experiment trackers (MLflow, W&B, ...) this plugin provides,
    for ``--track NAME[=URI]``."""
