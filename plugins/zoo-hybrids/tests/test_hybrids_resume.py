"""A resumed run of each hybrid ends with the weights of an uninterrupted
one: every network's optimizer (the AAE's encoder has two) and the seed
generators come back from the checkpoint. On whatever backend KERAS_BACKEND
selects."""

from __future__ import annotations

import numpy as np
import pytest

from hybrids_tiny import DATASET, LABELLED, REGISTRY, TINY, numpy, overrides
from zoo_core.plugins.resolve import resolve_run


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(name, tmp_path):
    import keras

    from zoo_core.training import train_run
    from zoo_core.training import resume_run

    backend = keras.backend.backend()
    quiet = {"backend": backend, "echo": lambda s: None, "verbose": 0}

    dataset = LABELLED if REGISTRY.model(name).needs_labels else DATASET

    def run(epochs, folder):
        resolved = resolve_run(REGISTRY, name, dataset=dataset,
                               overrides=[*overrides(name), f"epochs={epochs}", "batch_size=16", "seed=1"])
        train_run(resolved, tmp_path / folder, **quiet)

    run(2, "whole")
    run(1, "halves")
    resume_run(tmp_path / "halves", REGISTRY, epochs=2, **quiet)
    whole = keras.saving.load_model(tmp_path / "whole" / "model.keras")
    halves = keras.saving.load_model(tmp_path / "halves" / "model.keras")
    for a, b in zip(whole.weights, halves.weights):
        np.testing.assert_allclose(numpy(a), numpy(b), atol=1e-6)
    for a, b in zip(whole.optimizer.variables, halves.optimizer.variables):
        np.testing.assert_allclose(numpy(a), numpy(b), atol=1e-6)
