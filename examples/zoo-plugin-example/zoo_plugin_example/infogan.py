"""InfoGAN on Keras 3 for zoo's multi-network trainer, backend-neutral.

Chen, Duan, Houthooft, Schulman, Sutskever and Abbeel (2016), "InfoGAN:
Interpretable Representation Learning by Information Maximizing Generative
Adversarial Nets" (NeurIPS 2016, arXiv:1606.03657).

The generator G(z, c) takes noise z and a latent code c: one categorical
code (``num_categories`` values, uniform) and ``num_continuous`` codes
uniform in [-1, 1]. An auxiliary network Q(c | x) reads the code back from
G's images, and G and Q minimise the cross-entropy of the code under Q
alongside the GAN objective: that cross-entropy is ``H(c) - L_I``, where
``L_I`` is the paper's variational lower bound on the mutual information
I(c; G(z, c)), so minimising it maximises the bound. Nothing tells
the model what the codes mean: on digits the categorical code tends to
pick the digit and the continuous ones its style.

Networks (each with its own optimizer; the paper's Q shares D's body):

- ``generator``: ``[z, one_hot(c_cat), c_cont] -> images in [0, 1]`` (MLP);
- ``body``: images -> features (MLP, leaky ReLU), a functional model used by
  both of the next two; it is not a network of its own;
- ``discriminator``: body + a dense score (logits);
- ``q``: body + a hidden layer + the categorical logits and the Gaussian
  mean of the continuous codes (and, with ``learn_std``, their log-std).

No backend code: only ``keras``, ``keras.ops`` and ``keras.random``.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import keras
import numpy as np
from keras import layers, ops

from zoo_core.multinet import MultiNetworkModel, Phase

PACKAGE = "zoo_plugin_example"
NETWORKS = ("generator", "discriminator", "q")
#: Bounds of a learnt log-std, so that Q cannot drive the Gaussian NLL to -inf.
LOG_STD_RANGE = (-4.0, 2.0)


def build(config, data, loss):
    """Make an InfoGAN for ``data`` and attach its GAN loss (the "gan" interface)."""
    for method in ("discriminator", "generator"):
        if not callable(getattr(loss, method, None)):
            raise ValueError(f"the loss {loss!r} has no {method}() method: infogan needs a 'gan' interface loss")
    if getattr(loss, "gradient_penalty", 0):
        raise ValueError(f"infogan adds no gradient penalty, which the loss {loss!r} needs; "
                         "use logistic-ns (or zoo-gan's non-saturating, minimax, hinge, least-squares)")
    model = InfoGAN(image_shape=tuple(data.image_shape), **asdict(config))
    model.loss_fn = loss
    return model


@keras.saving.register_keras_serializable(package=PACKAGE)
class InfoGAN(MultiNetworkModel):
    """G(z, c), a discriminator D and an auxiliary Q(c|x) that share D's body.

    One training step runs two phases:

    1. ``discriminator``: the GAN discriminator loss on the real batch and a
       fake batch that the phase's ``prepare`` makes without gradient (fresh
       z and c). The discriminator's optimizer updates the body and the score
       head.
    2. ``("generator", "q")``: one forward pass on fresh codes, routed so
       each network gets the gradient of its own loss only: the generator
       minimises ``g_loss + info``, Q minimises ``info``. Q holds the shared
       body, and in this phase no other network does (zoo's rule: a variable
       shared by two networks of one phase belongs to the first one in
       ``update`` that holds it), so Q's optimizer updates the body and the Q
       head with the gradient of ``info`` alone; ``g_loss`` never reaches the
       body, so D's body is not trained to be fooled.

    So the body learns features for both tasks, as in the paper: the
    discriminator's loss moves it in phase 1 (D's Adam state), the
    information term in phase 2 (Q's Adam state).

    ``info`` is ``lambda_cat * CE(c_cat) + lambda_cont * NLL(c_cont)``: the
    cross-entropy of the categorical code under Q's softmax and the Gaussian
    negative log-likelihood of the continuous codes under Q's mean and std
    (std 1 unless ``learn_std``, as in the authors' code), in nats per image,
    summed over codes. Unweighted it is ``H(c) - L_I``. The paper sets
    lambda = 1 for discrete codes and a smaller lambda for continuous ones,
    so that lambda * L_I stays on the scale of the GAN objective (its
    "Implementation" section): hence ``info_weight=1.0`` and
    ``continuous_weight=0.1`` by default.

    Logged: ``d_loss``, ``g_loss``, ``info``, ``d_real`` and ``d_fake`` (the
    loss's readout, e.g. D's probability, on real and fake images).

    Args:
        image_shape: ``(height, width, channels)``.
        noise_dim: size of the incompressible noise z ~ N(0, I).
        num_categories: values of the categorical code (at least 2).
        num_continuous: continuous codes, each uniform in [-1, 1] (at least 1).
        generator_units: hidden layer sizes of G (ReLU).
        discriminator_units: hidden layer sizes of the shared body (leaky ReLU).
        q_units: the Q head's hidden layer (leaky ReLU).
        info_weight: lambda of the categorical code's term.
        continuous_weight: lambda of the continuous codes' term.
        learn_std: Q also predicts each continuous code's log-std
            (clipped to [-4, 2]); otherwise the std is 1.
        generator_learning_rate, discriminator_learning_rate, q_learning_rate:
            each network's own learning rate (None: the run's).
        seed: seeds the training noise (the model's seed generator).
    """

    def __init__(self, image_shape, noise_dim=16, num_categories=10, num_continuous=2, generator_units=(128, 256),
                 discriminator_units=(256, 128), q_units=64, info_weight=1.0, continuous_weight=0.1,
                 learn_std=False, generator_learning_rate=None, discriminator_learning_rate=None,
                 q_learning_rate=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.noise_dim = int(noise_dim)
        self.num_categories = int(num_categories)
        self.num_continuous = int(num_continuous)
        self.generator_units = tuple(int(u) for u in generator_units)
        self.discriminator_units = tuple(int(u) for u in discriminator_units)
        self.q_units = int(q_units)
        self.info_weight = float(info_weight)
        self.continuous_weight = float(continuous_weight)
        self.learn_std = bool(learn_std)
        self.generator_learning_rate = generator_learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.q_learning_rate = q_learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track("d_loss", "g_loss", "info", "d_real", "d_fake")
        #: The GAN loss object (the "gan" interface); not saved with the model.
        self.loss_fn = None
        self._build_networks()

    # === Networks ===

    def _build_networks(self):
        z = keras.Input((self.noise_dim,), name="z")
        c_cat = keras.Input((self.num_categories,), name="categorical_code")
        c_cont = keras.Input((self.num_continuous,), name="continuous_code")
        h = layers.Concatenate()([z, c_cat, c_cont])
        for units in self.generator_units:
            h = layers.Dense(units, activation="relu")(h)
        h = layers.Dense(int(np.prod(self.image_shape)), activation="sigmoid")(h)
        self.generator = keras.Model([z, c_cat, c_cont], layers.Reshape(self.image_shape)(h), name="generator")

        images = keras.Input(self.image_shape, name="images")
        h = layers.Flatten()(images)
        for units in self.discriminator_units:
            h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
        self.body = keras.Model(images, h, name="body")

        # Both heads call the same body: its weights exist once, in both models.
        images = keras.Input(self.image_shape, name="images")
        score = layers.Dense(1, name="score")(self.body(images))
        self.discriminator = keras.Model(images, score, name="discriminator")

        images = keras.Input(self.image_shape, name="images")
        h = layers.LeakyReLU(0.2)(layers.Dense(self.q_units)(self.body(images)))
        outputs = [layers.Dense(self.num_categories, name="categorical_logits")(h),
                   layers.Dense(self.num_continuous, name="continuous_mean")(h)]
        if self.learn_std:
            outputs.append(layers.Dense(self.num_continuous, name="continuous_log_std")(h))
        self.q = keras.Model(images, outputs, name="q")
        # Every part is functional, so every weight exists now.
        self.built = True

    def networks(self) -> dict:
        """``{"generator", "discriminator", "q"}``; the body is in the last two."""
        return {name: getattr(self, name) for name in NETWORKS}

    def default_optimizer(self):
        return keras.optimizers.Adam(2e-4, beta_1=0.5)

    def call(self, images, training=False):
        """The discriminator's logits for a batch of [0, 1] images."""
        return self.discriminate(images, training)

    def discriminate(self, images, training=False):
        return ops.cast(self.discriminator(ops.cast(images, "float32"), training=training), "float32")

    def read_codes(self, images, training=False):
        """Q's ``(categorical logits, continuous mean, continuous log-std)``."""
        outputs = [ops.cast(o, "float32") for o in self.q(ops.cast(images, "float32"), training=training)]
        log_std = (ops.clip(outputs[2], *LOG_STD_RANGE) if self.learn_std else ops.zeros_like(outputs[1]))
        return outputs[0], outputs[1], log_std

    # === Codes ===

    def draw_codes(self, batch_size):
        """Training codes from the model's seed generator: ``(z, category indices, continuous codes)``."""
        z = keras.random.normal((batch_size, self.noise_dim), seed=self.seed_generator)
        category = keras.random.randint((batch_size,), 0, self.num_categories, seed=self.seed_generator)
        continuous = keras.random.uniform((batch_size, self.num_continuous), -1.0, 1.0, seed=self.seed_generator)
        return z, category, continuous

    def _generate(self, z, category, continuous, training):
        one_hot = ops.one_hot(ops.cast(category, "int32"), self.num_categories)
        return ops.cast(self.generator([z, one_hot, continuous], training=training), "float32")

    # === Objectives ===

    def _loss(self):
        if self.loss_fn is None:
            raise RuntimeError("this InfoGAN has no GAN loss attached; train it with `zoo train` or set model.loss_fn")
        return self.loss_fn

    def prepare_batch(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return ops.cast(x, "float32")

    def train_phases(self):
        """The discriminator on real and prepared fakes, then generator and Q together (see the class docstring)."""
        return [
            Phase("discriminator", self._discriminator_phase, prepare=self._with_fakes),
            Phase(("generator", "q"), self._generator_phase),
        ]

    def _with_fakes(self, real, training):
        return real, self._generate(*self.draw_codes(ops.shape(real)[0]), training=training)

    def _discriminator_phase(self, batch, training):
        real, fake = batch
        loss_fn = self._loss()
        real_logits, fake_logits = self.discriminate(real, training), self.discriminate(fake, training)
        d_loss = loss_fn.discriminator(real_logits, fake_logits)
        readout = getattr(loss_fn, "readout", None) or (lambda s: s)
        return d_loss, {"d_loss": d_loss, "d_real": ops.mean(readout(real_logits)),
                        "d_fake": ops.mean(readout(fake_logits))}

    def _generator_phase(self, real, training):
        z, category, continuous = self.draw_codes(ops.shape(real)[0])
        fake = self._generate(z, category, continuous, training)
        g_loss = self._loss().generator(self.discriminate(fake, training))
        info = self.information_loss(fake, category, continuous, training)
        return {"generator": g_loss + info, "q": info}, {"g_loss": g_loss, "info": info}

    def information_loss(self, images, category, continuous, training=True):
        """``lambda_cat * CE + lambda_cont * Gaussian NLL`` of the codes under Q, batch mean in nats."""
        logits, mean, log_std = self.read_codes(images, training)
        one_hot = ops.one_hot(ops.cast(category, "int32"), self.num_categories)
        cross_entropy = -ops.sum(one_hot * ops.log_softmax(logits, axis=-1), axis=-1)
        standardised = (ops.cast(continuous, "float32") - mean) * ops.exp(-log_std)
        nll = ops.sum(0.5 * ops.square(standardised) + log_std + 0.5 * math.log(2.0 * math.pi), axis=-1)
        return ops.mean(self.info_weight * cross_entropy + self.continuous_weight * nll)

    # === What zoo's image grids and tools use ===

    def generate(self, num_samples, seed=None):
        """``num_samples`` images from random z and codes; float32 in [0, 1].

        Drawn with NumPy from ``seed``, so the same int seed gives the same
        images on every backend.
        """
        rng = np.random.default_rng(seed)
        n = int(num_samples)
        z = rng.standard_normal((n, self.noise_dim))
        category = rng.integers(0, self.num_categories, n)
        continuous = rng.uniform(-1.0, 1.0, (n, self.num_continuous))
        return self.generate_from_codes(z, category, continuous)

    def sample_grid(self, grid_size, seed=None):
        """One row per categorical value, ``grid_size`` columns; column j uses
        the same z and continuous codes in every row, so a row differs from
        the next by its category alone."""
        rng = np.random.default_rng(seed)
        columns = int(grid_size)
        z = rng.standard_normal((columns, self.noise_dim))
        continuous = rng.uniform(-1.0, 1.0, (columns, self.num_continuous))
        rows = self.num_categories
        category = np.repeat(np.arange(rows), columns)
        return self.generate_from_codes(np.tile(z, (rows, 1)), category, np.tile(continuous, (rows, 1))), columns

    def traverse(self, code, steps=8, seed=None):
        """One row per categorical value; the columns sweep continuous code
        ``code`` from -1 to 1, every other input fixed (one z for the grid).
        Returns ``(images, columns)`` like :meth:`sample_grid`."""
        if not 0 <= int(code) < self.num_continuous:
            raise ValueError(f"code must be in [0, {self.num_continuous}), got {code}")
        rng = np.random.default_rng(seed)
        rows, columns = self.num_categories, int(steps)
        continuous = np.zeros((rows * columns, self.num_continuous))
        continuous[:, int(code)] = np.tile(np.linspace(-1.0, 1.0, columns), rows)
        z = np.tile(rng.standard_normal((1, self.noise_dim)), (rows * columns, 1))
        return self.generate_from_codes(z, np.repeat(np.arange(rows), columns), continuous), columns

    def generate_from_codes(self, z, category, continuous):
        """G's images for given noise, category indices and continuous codes; float32 in [0, 1]."""
        images = self._generate(ops.convert_to_tensor(np.asarray(z, np.float32)),
                                ops.convert_to_tensor(np.asarray(category, np.int32)),
                                ops.convert_to_tensor(np.asarray(continuous, np.float32)), training=False)
        return np.clip(ops.convert_to_numpy(images), 0.0, 1.0).astype(np.float32)

    def infer_codes(self, images):
        """What Q reads from [0, 1] images: ``(category probabilities, continuous means)``,
        e.g. to cluster real digits by the learnt categorical code."""
        logits, mean, _ = self.read_codes(ops.convert_to_tensor(np.asarray(images, np.float32)))
        return ops.convert_to_numpy(ops.softmax(logits, axis=-1)), ops.convert_to_numpy(mean)

    # Only constructor arguments: from_config is cls(**config).
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": list(self.image_shape),
            "noise_dim": self.noise_dim,
            "num_categories": self.num_categories,
            "num_continuous": self.num_continuous,
            "generator_units": list(self.generator_units),
            "discriminator_units": list(self.discriminator_units),
            "q_units": self.q_units,
            "info_weight": self.info_weight,
            "continuous_weight": self.continuous_weight,
            "learn_std": self.learn_std,
            "generator_learning_rate": self.generator_learning_rate,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "q_learning_rate": self.q_learning_rate,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
