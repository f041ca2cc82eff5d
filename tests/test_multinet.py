"""The core's multi-network trainer (zoo_core.multinet), on whatever backend
KERAS_BACKEND selects (CI runs this file on TensorFlow, JAX and PyTorch):
the docs' example model, phases that repeat and split, one scalar loss for
several networks, a loss per network, networks that share layers, the
combined optimizer, and the errors a plugin author can cause."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
SHAPE = (4, 4, 1)


def numpy(v):
    import keras

    return np.array(keras.ops.convert_to_numpy(v), copy=True)


def images(n=16, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, *SHAPE)).astype(np.float32)


def docs_example():
    """The complete model in docs/plugins.md, "Models with several networks", as a class."""
    text = DOCS.read_text()
    section = text[text.index("## Models with several networks"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace('package="my_plugin"', 'package="zoo_docs_example"')
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    return namespace["TinyGAN"]


@pytest.fixture(scope="module")
def TinyGAN():
    return docs_example()


def test_the_docs_example_trains_saves_and_loads(TinyGAN, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = TinyGAN(SHAPE, latent_dim=3, units=8, generator_learning_rate=1e-3)
    model.compile(keras.optimizers.Adam(2e-4))
    assert float(numpy(model.optimizer.generator.learning_rate)) == pytest.approx(1e-3)
    assert float(numpy(model.optimizer.discriminator.learning_rate)) == pytest.approx(2e-4)
    before = [numpy(v) for v in model.trainable_variables]
    history = model.fit(images(), batch_size=8, epochs=2, verbose=0).history
    assert set(history) == {"d_loss", "g_loss"} and all(np.isfinite(v).all() for v in history.values())
    assert all(not np.array_equal(b, numpy(v)) for b, v in zip(before, model.trainable_variables))
    assert [int(numpy(o.iterations)) for o in model.optimizer.optimizers] == [4, 4]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(model.generate(3, seed=1), loaded.generate(3, seed=1), atol=1e-6)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    scores = model.evaluate(images(8), batch_size=8, verbose=0, return_dict=True)
    assert set(scores) == {"d_loss", "g_loss"}


def test_the_discriminator_phase_gives_the_generator_nothing(TinyGAN):
    import keras

    from zoo_core.multinet import phase_gradients

    model = TinyGAN(SHAPE, latent_dim=3, units=8)
    model.compile(keras.optimizers.SGD(0.1))
    d_phase, g_phase = model.train_phases()
    x = keras.ops.convert_to_tensor(images(8))
    d = phase_gradients(model, d_phase, x)
    assert list(d) == ["discriminator"] and len(d["discriminator"]) == 4
    g = phase_gradients(model, g_phase, x)
    assert list(g) == ["generator"] and all(np.abs(numpy(t)).sum() > 0 for t in g["generator"])


# === Phases a model can declare ===


def shared_model(phases, **kwargs):
    """Two networks, ``a`` and ``b``, that share one Dense layer (``shared``),
    each with a head of its own; ``phases(model)`` gives the phases."""
    import keras
    from keras import layers, ops

    from zoo_core.multinet import MultiNetworkModel

    class Shared(MultiNetworkModel):
        def __init__(self):
            super().__init__()
            self.track("la", "lb")
            x = keras.Input((3,))
            self.shared = layers.Dense(2, name="shared")
            self.a = keras.Model(x, layers.Dense(1, name="head_a")(self.shared(x)), name="a")
            self.b = keras.Model(x, layers.Dense(1, name="head_b")(self.shared(x)), name="b")

        def networks(self):
            return {"a": self.a, "b": self.b}

        def train_phases(self):
            return phases(self)

        def losses(self, x, training):
            la = ops.mean(ops.square(self.a(x, training=training) - 1.0))
            lb = ops.mean(ops.square(self.b(x, training=training) + 1.0))
            return la, lb

    keras.utils.set_random_seed(0)
    model = Shared()
    model.compile(kwargs.pop("optimizer", None) or keras.optimizers.SGD(0.1))
    return model


def step(model, x):
    model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0)


def test_one_scalar_for_two_networks_updates_a_shared_variable_once():
    """A phase that updates a and b on one loss moves each variable once, by
    -lr * d loss / d variable, the shared layer included (owned by a)."""
    import keras

    from zoo_core.multinet import Phase, phase_gradients

    model = shared_model(lambda m: [Phase(("a", "b"), lambda x, training: (sum(m.losses(x, training)), {}))])
    x = images(4).reshape(4, -1)[:, :3]
    (phase,) = model.train_phases()
    grads = phase_gradients(model, phase, keras.ops.convert_to_tensor(x))
    assert [v.name for v in model.a.trainable_variables][:2] == ["kernel", "bias"]
    assert len(grads["a"]) == 4 and len(grads["b"]) == 2  # b's copy of the shared layer is a's
    before = {v.path: numpy(v) for v in model.trainable_variables}
    flat = dict(zip([v.path for v in model.a.trainable_variables] + [v.path for v in model.b.trainable_variables[2:]],
                    [numpy(g) for g in grads["a"] + grads["b"]]))
    step(model, x)
    for v in model.trainable_variables:
        np.testing.assert_allclose(numpy(v), before[v.path] - 0.1 * flat[v.path], rtol=1e-5, atol=1e-6)
    assert [int(numpy(o.iterations)) for o in model.optimizer.optimizers] == [1, 1]


def test_an_unreached_weight_gets_a_zero_gradient_on_every_backend():
    """phase_gradients is the same everywhere: zeros (not TensorFlow's and
    PyTorch's None) for b's head, which a's loss never reaches."""
    import keras

    from zoo_core.multinet import Phase, phase_gradients

    model = shared_model(lambda m: [Phase(("a", "b"), lambda x, training: (m.losses(x, training)[0], {}))])
    x = keras.ops.convert_to_tensor(images(4).reshape(4, -1)[:, :3])
    grads = phase_gradients(model, model.train_phases()[0], x)
    assert all(g is not None for g in grads["a"] + grads["b"])
    assert [numpy(g).shape for g in grads["b"]] == [tuple(v.shape) for v in model.b.trainable_variables[2:]]
    assert not any(np.any(numpy(g)) for g in grads["b"]) and all(np.any(numpy(g)) for g in grads["a"])


def test_a_loss_per_network_routes_each_gradient():
    """{a: la, b: lb}: a's weights (the shared layer too) follow la alone, b's head lb alone."""
    import keras

    from zoo_core.multinet import Phase, phase_gradients

    def routed(m):
        def loss(x, training):
            la, lb = m.losses(x, training)
            return {"a": la, "b": lb}, {"la": la, "lb": lb}
        return [Phase(("a", "b"), loss)]

    def only(which):
        return lambda m: [Phase(("a", "b"), lambda x, training: (m.losses(x, training)[which], {}))]

    x = keras.ops.convert_to_tensor(images(4).reshape(4, -1)[:, :3])
    got = phase_gradients(model := shared_model(routed), model.train_phases()[0], x)
    only_a = phase_gradients(m := shared_model(only(0)), m.train_phases()[0], x)
    only_b = phase_gradients(m := shared_model(only(1)), m.train_phases()[0], x)
    for g, e in zip(got["a"], only_a["a"]):
        np.testing.assert_allclose(numpy(g), numpy(e), rtol=1e-5, atol=1e-7)
    for g, e in zip(got["b"], only_b["b"]):
        np.testing.assert_allclose(numpy(g), numpy(e), rtol=1e-5, atol=1e-7)
    history = model.fit(numpy(x), batch_size=4, epochs=1, verbose=0).history
    assert set(history) == {"la", "lb"}


def test_repeat_and_split_count_updates_and_sub_batches():
    from keras import ops

    from zoo_core.multinet import Phase

    seen = []

    def phases(m):
        def loss_a(x, training):
            seen.append(("a", int(ops.shape(x)[0])))
            return m.losses(x, training)[0], {"la": m.losses(x, training)[0]}

        def loss_b(x, training):
            seen.append(("b", int(ops.shape(x)[0])))
            return m.losses(x, training)[1], {"lb": m.losses(x, training)[1]}

        return [Phase("a", loss_a, repeat=3, split=3), Phase("b", loss_b, split=3)]

    model = shared_model(phases, optimizer=None)
    model.run_eagerly = True  # count the calls of every step, not of a trace
    x = images(9).reshape(9, -1)[:, :3]
    model.fit(x, batch_size=9, epochs=2, shuffle=False, verbose=0)
    assert [int(numpy(o.iterations)) for o in model.optimizer.optimizers] == [6, 2]
    assert seen[:4] == [("a", 3), ("a", 3), ("a", 3), ("b", 3)]


def test_split_batch_is_consecutive_wraps_and_keeps_none():
    from keras import ops

    from zoo_core.multinet import batch_size, split_batch

    x = ops.reshape(ops.arange(7, dtype="float32"), (7, 1))
    parts = split_batch((x, None), 3)
    assert [numpy(p[0]).ravel().tolist() for p in parts] == [[0, 1], [2, 3], [4, 5]]
    assert all(p[1] is None for p in parts)
    tiny = ops.reshape(ops.arange(2, dtype="float32"), (2, 1))
    assert [numpy(p).ravel().tolist() for p in split_batch(tiny, 3)] == [[0], [1], [0]]
    assert split_batch(x, 1)[0] is x and batch_size({"x": x, "y": None}) == 7


# === Errors a plugin author can cause ===


@pytest.mark.parametrize("kwargs, message", [
    ({"update": ()}, "must name one or more distinct networks"),
    ({"update": ("a", "a")}, "must name one or more distinct networks"),
    ({"update": "a", "repeat": 0}, "Phase.repeat must be a positive int"),
    ({"update": "a", "split": 1.5}, "Phase.split must be a positive int"),
])
def test_bad_phases_are_refused(kwargs, message):
    from zoo_core.multinet import Phase

    with pytest.raises(ValueError, match=message):
        Phase(loss=lambda b, training: (0.0, {}), **kwargs)


def test_a_phase_naming_an_unknown_network_or_wrong_losses_is_a_clear_error():
    from zoo_core.multinet import Phase

    model = shared_model(lambda m: [Phase("c", lambda x, training: (m.losses(x, training)[0], {}))])
    with pytest.raises(ValueError, match="a phase updates 'c', which is not one of the model's networks \\(a, b\\)"):
        step(model, images(4).reshape(4, -1)[:, :3])
    model = shared_model(lambda m: [Phase(("a", "b"), lambda x, training: ({"a": m.losses(x, training)[0]}, {}))])
    with pytest.raises(ValueError, match="returned losses for \\['a'\\]; return one scalar, or one loss per"):
        step(model, images(4).reshape(4, -1)[:, :3])


def test_network_optimizers_refuse_bad_names_and_mismatched_models():
    import keras

    from zoo_core.multinet import NetworkOptimizers, Phase

    for name in ("iterations", "_hidden", "not a name", "learning_rate"):
        with pytest.raises(ValueError, match="a network cannot be called"):
            NetworkOptimizers({name: keras.optimizers.SGD()})
    with pytest.raises(ValueError, match="one optimizer per network"):
        NetworkOptimizers()
    with pytest.raises(ValueError, match=r"the optimizers are for \['a'\], but the model's networks are \['a', 'b'\]"):
        shared_model(lambda m: [Phase("a", None)], optimizer=NetworkOptimizers(a=keras.optimizers.SGD()))
    opt = NetworkOptimizers(a=keras.optimizers.SGD(0.5), b="adam")
    assert opt.network_names == ("a", "b") and isinstance(opt.b, keras.optimizers.Adam)
    with pytest.raises(RuntimeError, match="apply one network's optimizer \\(a, b\\)"):
        opt.apply([], [])


def test_mixed_float16_is_refused_in_one_line():
    import keras

    from zoo_core.multinet import Phase

    keras.config.set_dtype_policy("mixed_float16")
    try:
        with pytest.raises(ValueError, match="mixed_float16 needs loss scaling.*mixed_bfloat16"):
            shared_model(lambda m: [Phase("a", None)])
    finally:
        keras.config.set_dtype_policy("float32")


def test_the_helpers_of_zoo_0_1_still_work_and_two_of_them_warn():
    import keras

    from zoo_core import multinet

    assert multinet.clone_optimizer(keras.optimizers.Adam(1e-3), 5e-4).get_config()["learning_rate"] == pytest.approx(5e-4)
    multinet.refuse_mixed_float16("old steps")
    assert multinet.tensorflow_on_cpu() == (keras.backend.backend() == "tensorflow")
    with pytest.warns(DeprecationWarning, match="step_module is deprecated"):
        module = multinet.step_module("zoo_core.training.steps", "test")
    assert hasattr(module, "train_step")
    model = shared_model(lambda m: [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, non_trainable = multinet.run_stateless(
            model, [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
            lambda: 1)
    assert out == 1 and any("run_stateless is deprecated" in str(w.message) for w in caught)
