"""What a checkpoint holds besides weights and optimizer state: the random
generators' states (the model's, and the backend's global one where Keras
draws from it), the metric sums of an epoch stopped part-way, and the order
of each epoch's data. With them a resumed run continues exactly where an
uninterrupted one would be.

Keras and the backends are imported inside the functions only.
"""

from __future__ import annotations

import numpy as np

from ..errors import ZooError



def random_state_variables(model) -> list:
    """The model's random-generator states (dropout, noise, sampling): Keras
    does not save them in ``.keras`` files, so checkpoints store them."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def read_random_states(model) -> list:
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v).tolist() for v in random_state_variables(model)]


def restore_random_states(model, states: list) -> None:
    variables = random_state_variables(model)
    if len(variables) != len(states):
        raise ZooError(
            f"the checkpoint holds {len(states)} random-generator states but the model has "
            f"{len(variables)}; the model's plugin changed since the run was started"
        )
    for variable, value in zip(variables, states):
        variable.assign(np.asarray(value, dtype=variable.dtype))


def read_backend_random_state(backend: str) -> dict:
    """The backend's global random generator, where Keras draws from it: on
    PyTorch, a ``Dropout`` (or other layer) with no seed of its own uses
    torch's global generator, which no model variable holds."""
    if backend != "torch":
        return {}
    import base64

    import torch

    encode = lambda t: base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")  # noqa: E731
    state = {"torch": encode(torch.get_rng_state())}
    if torch.cuda.is_available():
        state["torch_cuda"] = [encode(t) for t in torch.cuda.get_rng_state_all()]
    return state


def restore_backend_random_state(backend: str, state: dict) -> None:
    if backend != "torch" or not state.get("torch"):
        return
    import base64

    import torch

    decode = lambda s: torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)  # noqa: E731
    torch.set_rng_state(decode(state["torch"]))
    if state.get("torch_cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([decode(s) for s in state["torch_cuda"]])


def read_metric_state(model) -> list:
    """The model's metric accumulators (sums and counts of the epoch so far)."""
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v).tolist() for v in model.metrics_variables]


def restore_metric_state(model, values: list) -> bool:
    """Put back the accumulators of an epoch stopped part-way; False if the
    model's metrics no longer match them (the row then covers the resumed batches only)."""
    variables = model.metrics_variables
    if len(variables) != len(values) or any(tuple(np.shape(x)) != tuple(v.shape) for v, x in zip(variables, values)):
        return False
    for variable, value in zip(variables, values):
        variable.assign(np.asarray(value, dtype=variable.dtype))
    return True


def epoch_flips(seed: int, epoch: int, n: int) -> np.ndarray:
    """Which positions of ``epoch``'s order are flipped left-right (``train.flip``):
    like the order, a function of the seed and the epoch only."""
    return np.random.default_rng([seed, epoch, 1]).random(n) < 0.5


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the training images in ``epoch``: a function of the seed
    and the epoch only, so a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(n)
