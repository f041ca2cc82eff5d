"""Models with several networks, each with its own optimizer, written once
and trained on TensorFlow, JAX and PyTorch.

A plugin subclasses :class:`MultiNetworkModel` and declares, with
``keras.ops`` and ``keras.random`` only:

- :meth:`~MultiNetworkModel.networks`: its named networks (sub-models);
  each gets an optimizer of its own;
- :meth:`~MultiNetworkModel.train_phases`: what one training step does, as
  an ordered list of :class:`Phase` objects, each naming the network(s) it
  updates and the loss it minimises.

zoo owns the rest, once for every backend (:mod:`zoo_core.training.steps`):
differentiating each phase's loss for its networks' weights only, applying
each network's optimizer, threading JAX's state (batch-norm statistics,
seed generators, metrics), the combined optimizer that Keras' trainers and
``.keras`` files see (:class:`NetworkOptimizers`), metrics, saving, resume
and ``keras.distribution`` data parallelism. See docs/plugins.md, "Models
with several networks".

Keras is imported when this module is; ``zoo_core.multinet`` is the cheap,
public way in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import keras

from keras import ops

from .optimizers import clone_optimizer
from .precision import refuse_mixed_float16, tensorflow_on_cpu

PACKAGE = "zoo_core"


# === Phases (zoo_core.training.phases) ===

from .phases import Phase, batch_size, split_batch  # noqa: E402,F401  (the API, as before)


# === The combined optimizer ===


@keras.saving.register_keras_serializable(package=PACKAGE)
class NetworkOptimizers(keras.optimizers.Optimizer):
    """One optimizer per network, that Keras sees as one ``model.optimizer``.

    Keras' trainers know a single optimizer; on JAX the training state that
    ``fit`` threads through each step holds exactly ``model.optimizer.variables``.
    Each network's optimizer is an attribute named after the network
    (``model.optimizer.generator``), saved with it in ``.keras`` files and
    checkpoints; :attr:`variables` is theirs, in network order.

    Args:
        optimizers: ``{network: optimizer}`` (or keyword arguments), in the
            order of the model's :meth:`~MultiNetworkModel.networks`.
    """

    def __init__(self, optimizers: Optional[dict] = None, name: str = "network_optimizers", **by_name):
        super().__init__(learning_rate=0.0, name=name)
        optimizers = {**(optimizers or {}), **by_name}
        if not optimizers:
            raise ValueError("NetworkOptimizers needs one optimizer per network, e.g. generator=..., discriminator=...")
        for network, optimizer in optimizers.items():
            if not network.isidentifier() or network.startswith("_") or hasattr(type(self), network) \
                    or network in vars(self):
                raise ValueError(f"a network cannot be called {network!r} (not a name, or taken by the optimizer)")
            setattr(self, network, keras.optimizers.get(optimizer))
        self._network_names = tuple(optimizers)

    @property
    def network_names(self) -> tuple:
        return self._network_names

    @property
    def optimizers(self) -> list:
        """The optimizers, in network order."""
        return [getattr(self, n) for n in self._network_names]

    def build_networks(self, variables_by_network: dict) -> None:
        """Create each optimizer's slots for its own network's variables."""
        for network in self._network_names:
            optimizer = getattr(self, network)
            if not optimizer.built:
                with keras.name_scope(optimizer.name):
                    optimizer.build(variables_by_network[network])
        self.built = True

    def build(self, var_list):
        raise RuntimeError(
            "NetworkOptimizers is built by its model's compile() (build_networks); compile the model before fitting it"
        )

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def iterations(self):
        """Updates of the first network so far."""
        return self.optimizers[0].iterations

    def split(self, values) -> dict:
        """A list aligned with :attr:`variables` as ``{network: its optimizer's part}``."""
        parts, start = {}, 0
        for network, optimizer in zip(self._network_names, self.optimizers):
            end = start + len(optimizer.variables)
            parts[network] = list(values[start:end])
            start = end
        return parts

    def apply(self, grads, trainable_variables=None):
        raise RuntimeError(f"apply one network's optimizer ({', '.join(self._network_names)}), not all at once")

    def finalize_variable_values(self, var_list):
        # Nothing to finalize without EMA, which zoo does not turn on.
        pass

    # Each network's optimizer saves and loads its own state (they are attributes).
    def save_own_variables(self, store):
        pass

    def load_own_variables(self, store):
        pass

    def get_config(self):
        return {"name": self.name,
                "optimizers": {n: keras.saving.serialize_keras_object(o) for n, o in zip(self._network_names,
                                                                                      self.optimizers)}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        optimizers = {n: keras.saving.deserialize_keras_object(c, custom_objects=custom_objects)
                      for n, c in config["optimizers"].items()}
        return cls(optimizers, name=config.get("name", "network_optimizers"))


# === The model ===


class MultiNetworkModel(keras.Model):
    """A Keras model that holds several networks and trains each with its own
    optimizer, on every backend, from backend-neutral code.

    A subclass builds its networks in ``__init__`` (as attributes), names the
    terms it logs with :meth:`track`, and implements :meth:`networks` and
    :meth:`train_phases`. It may override :meth:`prepare_batch` (what a
    ``fit`` batch becomes), :meth:`test_terms` (validation),
    :meth:`logged_terms`, :meth:`default_optimizer` and
    :meth:`network_learning_rate`.

    ``compile(optimizer)`` clones the one optimizer it is given for every
    network (with each network's own learning rate where one is set), or
    takes a :class:`NetworkOptimizers` as is. ``mixed_float16`` is refused
    (no loss scaling for several optimizers); ``mixed_bfloat16`` works.
    """

    def __init__(self, *args, **kwargs):
        refuse_mixed_float16(f"{type(self).__name__}'s several optimizers")
        super().__init__(*args, **kwargs)
        self.term_trackers = {}

    # --- what a subclass declares ---

    def networks(self) -> dict:
        """``{name: network}``: the networks, each with its own optimizer, in
        a fixed order (that of their optimizers' variables)."""
        raise NotImplementedError

    def train_phases(self) -> list:
        """The :class:`Phase` objects one training step runs, in order."""
        raise NotImplementedError

    def prepare_batch(self, data):
        """A ``fit`` batch -> what the phases' ``prepare`` and ``loss`` get
        (default: the inputs ``x``)."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x

    def test_terms(self, batch) -> dict:
        """The terms on a held-out batch, nothing updated (for
        ``validation_data`` and ``evaluate``): by default every phase's loss
        once, on the whole batch, with ``training=False``."""
        terms = {}
        for phase in self.train_phases():
            part = phase.prepare(batch, training=False) if phase.prepare else batch
            terms.update(phase.loss(part, training=False)[1])
        return terms

    def default_optimizer(self):
        """What ``compile()`` clones for each network when given no optimizer."""
        return keras.optimizers.Adam(2e-4, beta_1=0.5)

    def network_learning_rate(self, name: str) -> Optional[float]:
        """The learning rate of network ``name`` (default: its
        ``<name>_learning_rate`` attribute; None: the run's learning rate)."""
        return getattr(self, f"{name}_learning_rate", None)

    # --- metrics ---

    def track(self, *names: str) -> None:
        """Keep an epoch mean of each named term (call in ``__init__``)."""
        for name in names:
            if name not in self.term_trackers:
                self.term_trackers[name] = keras.metrics.Mean(name=name)

    def logged_terms(self) -> list:
        """The tracked terms shown in this run's logs (default: all)."""
        return list(self.term_trackers)

    @property
    def metrics(self):
        return [self.term_trackers[name] for name in self.logged_terms()]

    def record(self, terms: dict) -> None:
        """Add one update's terms (a dict of scalars) to the epoch means."""
        by_name = {m.name: m for m in self.metrics}
        for name, value in terms.items():
            if name in by_name:
                by_name[name].update_state(value)

    def logs(self) -> dict:
        return {m.name: m.result() for m in self.metrics}

    # --- training ---

    def compile(self, optimizer=None, **kwargs):
        if kwargs.get("loss") is not None:
            raise ValueError(f"{type(self).__name__} computes its own losses (train_phases); compile it without loss=")
        networks = self.networks()
        optimizer = keras.optimizers.get(optimizer or self.default_optimizer())
        if not isinstance(optimizer, NetworkOptimizers):
            optimizer = NetworkOptimizers({name: clone_optimizer(optimizer, self.network_learning_rate(name))
                                           for name in networks})
        if list(optimizer.network_names) != list(networks):
            raise ValueError(f"the optimizers are for {list(optimizer.network_names)}, but the model's networks are "
                             f"{list(networks)}")
        # The networks are built (functional models are at creation), so every
        # weight exists now: nothing is left for a first call to build.
        self.built = True
        optimizer.build_networks({name: net.trainable_variables for name, net in networks.items()})
        if "jit_compile" not in kwargs and tensorflow_on_cpu():
            # Measured on a 2-core CPU: XLA made these steps 1.5-2x slower than
            # TensorFlow's own kernels. JAX must jit; torch doesn't by default.
            kwargs["jit_compile"] = False
        # Keras would wrap NetworkOptimizers in a LossScaleOptimizer under
        # mixed_float16, which the steps cannot use; __init__ refuses that policy.
        kwargs.setdefault("auto_scale_loss", False)
        super().compile(optimizer=optimizer, **kwargs)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer)}

    def compile_from_config(self, config):
        self.compile(optimizer=keras.saving.deserialize_keras_object(config["optimizer"]))

    def train_step(self, *args):
        # JAX passes (state, data); TensorFlow and PyTorch pass (data).
        from .steps import for_backend

        return for_backend().train_step(self, *args)

    def test_step(self, *args):
        from .steps import for_backend

        return for_backend().test_step(self, *args)


def input_gradient(fn: Callable, x):
    """``d sum(fn(x)) / dx`` on the running backend, itself differentiable
    (for input-gradient penalties such as WGAN-GP's or R1): call it inside a
    phase's ``loss``."""
    from .steps import for_backend

    return for_backend().input_gradient(fn, x)


def phase_gradients(model, phase: Phase, batch) -> dict:
    """``{network: gradients}`` of one update of ``phase`` on ``batch`` (its
    first sub-batch, after ``prepare``), computed by the running backend's
    train-step code, aligned with the variables the phase updates for each
    network (a variable shared with an earlier network of the phase is that
    one's); nothing is applied. For tests of which loss reaches which network.

    A weight the phase's loss never reaches gets a zero gradient, on every
    backend: the steps themselves see None on TensorFlow and PyTorch (the
    optimizer skips it) and zeros on JAX, where a zero gradient still moves a
    weight through Adam's momentum.
    """
    from .steps import for_backend, owned_variables

    grads = for_backend().phase_gradients(model, phase, batch)
    owned = owned_variables(model, phase)
    return {name: [ops.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(values, owned[name])]
            for name, values in grads.items()}
