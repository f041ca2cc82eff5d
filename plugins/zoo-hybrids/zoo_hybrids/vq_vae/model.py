"""VQ-VAE (van den Oord et al. 2017, "Neural Discrete Representation
Learning") with a PixelCNN prior over its code grid.

The encoder maps an image to a grid of vectors z_e; each is replaced by its
nearest codebook vector e_k (the quantiser); the decoder maps the grid of
codes back to the image. Gradients pass the quantiser straight through
(z_e + sg(e - z_e)). The codebook learns by exponential moving averages of
the encoder outputs assigned to each code (the paper's appendix; ``codebook
= "ema"``) or from the codebook loss (``"loss"``); a commitment term keeps the
encoder near its codes.

Sampling is what the paper does, never a Gaussian: a PixelCNN (van den Oord
et al. 2016; Gated PixelCNN, or plain masked convolutions) learns the distribution of
the code grids of the training images, and :meth:`VQVAE.generate` draws a
grid position by position from it and decodes it. Each step runs two phases:

1. autoencoder: encoder, decoder (and codebook, with ``"loss"``) minimise
   reconstruction + codebook + beta * commitment;
2. prior: the PixelCNN minimises the cross-entropy of the codes of the same
   images under the updated autoencoder (codes made without gradient).

Deviations from the papers: the prior is a phase of the same run rather than
a second training stage, so one ``zoo train`` gives a model that samples; it
chases codes that are still changing early on and settles as the codebook
does. The encoder and decoder are small conv nets, not the paper's ResNets.
The prior is the first PixelCNN's masked stack (``pixelcnn = "plain"``, which
has a blind spot) or Gated PixelCNN without its conditioning (``"gated"``:
vertical and horizontal stacks, no blind spot).

No backend code: zoo's multi-network trainer runs the phases everywhere.
Pixels in [0, 1] throughout (sigmoid decoder).
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import layers, ops

from zoo_core.layers import Conv2DTranspose
from zoo_core.multinet import Phase

from .. import nets
from ..base import HybridModel

#: What :meth:`VQVAE.encode` returns as the log-variance: the encoder's
#: output is a point (log-variance -inf); a finite constant.
POINT_MASS_LOG_VAR = -30.0
CODEBOOKS = ("ema", "loss")


def build(config, data, loss):
    """A model for ``data`` from a :class:`~zoo_hybrids.vq_vae.VQVAEConfig`, with its loss attached."""
    model = VQVAE(image_shape=tuple(data.image_shape), **asdict(config))
    model.loss_fn = nets.check_loss(loss, ("__call__", "prior"), "the 'vq' objective VQ-VAE needs")
    return model


# === Layers ===


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class VectorQuantizer(layers.Layer):
    """Nearest-neighbour quantisation of the last axis against a codebook of
    ``num_codes`` vectors. Returns ``(codes, indices)``; with ``ema`` and
    ``training`` it also moves the codebook (moving averages of the assigned
    vectors, with Laplace smoothing of the counts so an unused code is not
    divided by zero)."""

    def __init__(self, num_codes, code_dim, codebook="ema", decay=0.99, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.codebook, self.decay, self.epsilon = codebook, float(decay), float(epsilon)

    def build(self, input_shape):
        init = keras.initializers.VarianceScaling(1.0, "fan_in", "uniform")
        self.embeddings = self.add_weight(shape=(self.num_codes, self.code_dim), initializer=init, name="embeddings",
                                          trainable=self.codebook == "loss")
        if self.codebook == "ema":
            self.counts = self.add_weight(shape=(self.num_codes,), initializer="ones", name="counts",
                                          trainable=False)
            self.sums = self.add_weight(shape=(self.num_codes, self.code_dim), initializer="zeros", name="sums",
                                        trainable=False)
            # One vector counted once: the moving averages start at the codes (a copy: two
            # variables must not share one buffer, which JAX would donate twice).
            self.sums.assign(ops.copy(self.embeddings.value))
        self.built = True

    def nearest(self, flat):
        embeddings = ops.cast(self.embeddings, "float32")
        distances = (ops.sum(ops.square(flat), axis=1, keepdims=True) - 2.0 * ops.matmul(flat, ops.transpose(embeddings))
                     + ops.sum(ops.square(embeddings), axis=1)[None, :])
        return ops.argmin(distances, axis=1)

    def lookup(self, indices):
        """Code vectors for integer ``indices`` of any shape."""
        return ops.take(ops.cast(self.embeddings, "float32"), ops.cast(indices, "int32"), axis=0)

    def call(self, inputs, training=False):
        z = nets.f32(inputs)
        flat = ops.reshape(z, (-1, self.code_dim))
        indices = self.nearest(flat)
        codes = ops.reshape(self.lookup(indices), ops.shape(z))
        if training and self.codebook == "ema":
            one_hot = ops.one_hot(indices, self.num_codes, dtype="float32")
            counts = self.decay * self.counts + (1.0 - self.decay) * ops.sum(one_hot, axis=0)
            sums = self.decay * self.sums + (1.0 - self.decay) * ops.matmul(ops.transpose(one_hot),
                                                                           ops.stop_gradient(flat))
            total = ops.sum(counts)
            smoothed = (counts + self.epsilon) / (total + self.num_codes * self.epsilon) * total
            self.counts.assign(counts)
            self.sums.assign(sums)
            self.embeddings.assign(sums / smoothed[:, None])
        return codes, ops.reshape(ops.cast(indices, "int32"), ops.shape(z)[:-1])

    def compute_output_spec(self, inputs, training=False):
        return (keras.KerasTensor(inputs.shape, "float32"), keras.KerasTensor(inputs.shape[:-1], "int32"))

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "code_dim": self.code_dim,
                "codebook": self.codebook, "decay": self.decay, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class MaskedConv2D(layers.Layer):
    """A "same" 2-D convolution whose kernel sees only the pixels before the
    centre in raster order: type ``A`` excludes the centre (the first layer),
    type ``B`` includes it (van den Oord et al. 2016)."""

    def __init__(self, filters, kernel_size, mask_type="B", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.mask_type = int(filters), int(kernel_size), mask_type

    def kernel_mask(self) -> np.ndarray:
        """1 where the kernel may see, 0 where it may not: (rows, columns)."""
        k = self.kernel_size
        mask = np.ones((k, k), np.float32)
        centre = k // 2
        mask[centre, centre + (self.mask_type == "B"):] = 0.0
        mask[centre + 1:] = 0.0
        return mask

    def build(self, input_shape):
        mask = self.kernel_mask()
        self.kernel = self.add_weight(shape=(*mask.shape, int(input_shape[-1]), self.filters),
                                      initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
        self.mask = mask[:, :, None, None]
        self.built = True

    def call(self, inputs):
        kernel = self.kernel * ops.convert_to_tensor(self.mask, dtype=self.kernel.dtype)
        return ops.conv(inputs, kernel, strides=1, padding="same") + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "mask_type": self.mask_type}


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class StackConv2D(MaskedConv2D):
    """A "same" convolution of one of Gated PixelCNN's two stacks (van den Oord
    et al. 2016, section 2.2). ``vertical``: a k x k kernel that sees the rows up
    to and including its own; ``horizontal``: a 1 x k kernel that sees its row to
    the left, with the centre (``include_centre``) or without it (the first layer)."""

    def __init__(self, filters, kernel_size, stack="vertical", include_centre=True, **kwargs):
        super().__init__(filters, kernel_size, "B" if include_centre else "A", **kwargs)
        if stack not in ("vertical", "horizontal"):
            raise ValueError(f"stack must be 'vertical' or 'horizontal', got {stack!r}")
        self.stack, self.include_centre = stack, bool(include_centre)

    def kernel_mask(self) -> np.ndarray:
        k, centre = self.kernel_size, self.kernel_size // 2
        if self.stack == "vertical":
            mask = np.zeros((k, k), np.float32)
            mask[:centre + 1] = 1.0
        else:
            mask = np.zeros((1, k), np.float32)
            mask[0, :centre + int(self.include_centre)] = 1.0
        return mask

    def get_config(self):
        config = super().get_config()
        config.pop("mask_type")
        return {**config, "stack": self.stack, "include_centre": self.include_centre}


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class ShiftDown(layers.Layer):
    """Moves a feature map down one row (zeros in the first): what the vertical
    stack hands the horizontal one, so that row i hears only rows above it."""

    def call(self, inputs):
        return ops.pad(inputs, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class Gate(layers.Layer):
    """tanh(a) * sigmoid(b) of the two halves of the channels (the gated activation unit)."""

    def call(self, inputs):
        a, b = ops.split(inputs, 2, axis=-1)
        return ops.tanh(a) * ops.sigmoid(b)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 2)


# === Networks ===


def vq_encoder(image_shape, filters, kernel_size, code_dim):
    x = keras.Input(tuple(image_shape), name="images")
    h = x
    for f in filters:
        h = layers.Conv2D(f, kernel_size, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2D(filters[-1], 3, padding="same", activation="relu")(h)
    return keras.Model(x, layers.Conv2D(code_dim, 1, name="z_e")(h), name="encoder")


def vq_decoder(grid, code_dim, filters, kernel_size, channels):
    z = keras.Input((*grid, code_dim), name="codes")
    h = layers.Conv2D(filters[0], 3, padding="same", activation="relu")(z)
    for f in filters[1:]:
        h = Conv2DTranspose(f, kernel_size, strides=2, padding="same", activation="relu")(h)
    images = Conv2DTranspose(channels, kernel_size, strides=2, padding="same", activation="sigmoid",
                             name="images")(h)
    return keras.Model(z, images, name="decoder")


def pixelcnn(grid, num_codes, filters, num_layers):
    """Code grids (int) -> logits over the codes at each position, each
    position seeing only those before it in raster order."""
    codes = keras.Input(tuple(grid), dtype="int32", name="code_grid")
    h = layers.Embedding(num_codes, filters)(codes)
    h = layers.ReLU()(MaskedConv2D(filters, 5, "A")(h))
    for _ in range(num_layers):
        h = layers.Add()([h, layers.ReLU()(MaskedConv2D(filters, 3, "B")(h))])
    h = layers.Conv2D(filters, 1, activation="relu")(h)
    return keras.Model(codes, layers.Conv2D(num_codes, 1, name="logits")(h), name="prior")


def gated_pixelcnn(grid, num_codes, filters, num_layers):
    """Gated PixelCNN (van den Oord et al. 2016, sections 2.2-2.3): a vertical
    stack (the rows above) and a horizontal stack (the row to the left) with
    gated units, so position (i, j) sees every position before it in raster
    order: no blind spot. A 5x5 first layer, then ``num_layers`` 3x3 ones, the
    horizontal stack residual as the paper's."""
    codes = keras.Input(tuple(grid), dtype="int32", name="code_grid")
    e = layers.Embedding(num_codes, filters)(codes)

    def layer(v, h, k, first):
        v_pre = StackConv2D(2 * filters, k, "vertical")(v)
        down = layers.Conv2D(2 * filters, 1)(ShiftDown()(v_pre))
        h_pre = layers.Add()([StackConv2D(2 * filters, k, "horizontal", include_centre=not first)(h), down])
        out = layers.Conv2D(filters, 1)(Gate()(h_pre))
        return Gate()(v_pre), out if first else layers.Add()([h, out])

    v, h = layer(e, e, 5, first=True)
    for _ in range(num_layers):
        v, h = layer(v, h, 3, first=False)
    h = layers.Conv2D(filters, 1, activation="relu")(h)
    return keras.Model(codes, layers.Conv2D(num_codes, 1, name="logits")(h), name="prior")


PIXELCNNS = {"gated": gated_pixelcnn, "plain": pixelcnn}


# === The model ===


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class VQVAE(HybridModel):
    """Encoder, codebook, decoder and PixelCNN prior."""

    output_activation = "sigmoid"
    title = "VQ-VAE"
    config_keys = ("image_shape", "num_codes", "code_dim", "encoder_filters", "decoder_filters", "kernel_size",
                   "codebook", "decay", "pixelcnn", "prior_filters", "prior_layers", "encoder_learning_rate",
                   "decoder_learning_rate", "codebook_learning_rate", "prior_learning_rate", "seed")
    penalty_terms = ()

    def image_network(self):
        return self.decoder

    def __init__(self, image_shape, num_codes=64, code_dim=16, encoder_filters=(32, 64), decoder_filters=(64, 32),
                 kernel_size=4, codebook="ema", decay=0.99, pixelcnn="plain", prior_filters=64, prior_layers=5,
                 encoder_learning_rate=None, decoder_learning_rate=None, codebook_learning_rate=None,
                 prior_learning_rate=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.encoder_filters = tuple(int(f) for f in encoder_filters)
        self.decoder_filters = tuple(int(f) for f in decoder_filters)
        self.kernel_size = int(kernel_size)
        if codebook not in CODEBOOKS:
            raise ValueError(f"codebook must be one of {', '.join(CODEBOOKS)}, got {codebook!r}")
        self.codebook, self.decay = codebook, float(decay)
        if pixelcnn not in PIXELCNNS:
            raise ValueError(f"pixelcnn must be one of {', '.join(PIXELCNNS)}, got {pixelcnn!r}")
        # "plain" by default: models saved before the gated prior existed record
        # no ``pixelcnn`` and load as they were built.
        self.pixelcnn = pixelcnn
        self.prior_filters, self.prior_layers = int(prior_filters), int(prior_layers)
        self.encoder_learning_rate = encoder_learning_rate
        self.decoder_learning_rate = decoder_learning_rate
        self.codebook_learning_rate = codebook_learning_rate
        self.prior_learning_rate = prior_learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track("loss", "mse", "commitment", "perplexity", "prior_nll")
        self.loss_fn = None
        nets.check_image_size(self.image_shape, self.decoder_filters)
        factor = 2 ** len(self.encoder_filters)
        self.grid = (self.image_shape[0] // factor, self.image_shape[1] // factor)

        self.encoder = vq_encoder(self.image_shape, self.encoder_filters, self.kernel_size, self.code_dim)
        self.quantizer = VectorQuantizer(self.num_codes, self.code_dim, self.codebook, self.decay, name="quantizer")
        z = keras.Input((*self.grid, self.code_dim), name="z_e")
        self.codebook_network = keras.Model(z, self.quantizer(z), name="codebook")
        self.decoder = vq_decoder(self.grid, self.code_dim, self.decoder_filters, self.kernel_size,
                                  self.image_shape[2])
        self.prior_network = PIXELCNNS[pixelcnn](self.grid, self.num_codes, self.prior_filters, self.prior_layers)
        self.built = True

    @property
    def latent_dim(self) -> int:
        """The size of the flattened grid of encoder outputs (what ``--interpolate`` walks)."""
        return self.grid[0] * self.grid[1] * self.code_dim

    def networks(self) -> dict:
        """With an EMA codebook the codebook has no trainable weight and no optimizer."""
        found = {"encoder": self.encoder, "decoder": self.decoder}
        if self.codebook == "loss":
            found["codebook"] = self.codebook_network
        found["prior"] = self.prior_network
        return found

    def train_phases(self):
        autoencoder = ("encoder", "decoder", "codebook") if self.codebook == "loss" else ("encoder", "decoder")
        return [
            Phase(autoencoder, self.autoencoder_phase),
            Phase("prior", self.prior_phase, prepare=self.with_code_grids),
        ]

    # --- the phases ---

    def autoencoder_phase(self, images, training=True):
        loss_fn = self._loss()
        z_e = nets.f32(self.encoder(images, training=training))
        codes, indices = self.codebook_network(z_e, training=training)
        commitment = ops.mean(ops.square(z_e - ops.stop_gradient(codes)))
        codebook = ops.mean(ops.square(ops.stop_gradient(z_e) - codes)) if self.codebook == "loss" else 0.0
        straight_through = z_e + ops.stop_gradient(codes - z_e)
        reconstructions = self.decoder(straight_through, training=training)
        error = ops.mean(ops.square(nets.f32(images) - nets.f32(reconstructions)))
        loss = loss_fn(error, codebook, commitment)
        usage = ops.mean(ops.one_hot(ops.reshape(indices, (-1,)), self.num_codes, dtype="float32"), axis=0)
        perplexity = ops.exp(-ops.sum(usage * ops.log(usage + 1e-10)))
        return loss, {"loss": loss, "mse": error, "commitment": commitment,
                      "perplexity": perplexity}

    def code_grids(self, images, training=False):
        """The integer code grid of each image."""
        return self.codebook_network(self.encoder(images, training=training), training=False)[1]

    def with_code_grids(self, images, training=True):
        """The codes the prior learns (no gradient flows through prepare; the codebook does not move)."""
        return self.code_grids(images, training=False)

    def prior_phase(self, grids, training=True):
        loss = self._loss().prior(grids, self.prior_network(grids, training=training))
        return loss, {"prior_nll": loss}

    def call(self, images, training=False):
        z_e = self.encoder(images, training=training)
        codes, indices = self.codebook_network(z_e, training=False)
        return {"z_e": z_e, "indices": indices, "reconstruction": self.decoder(codes, training=training),
                "logits": self.prior_network(indices, training=training)}

    # --- what zoo's grids, zoo sample and zoo eval use ---

    def sample_code_grids(self, num_samples, seed=None):
        """``num_samples`` code grids drawn from the PixelCNN, position by
        position in raster order; the same int ``seed`` gives the same grids."""
        generator = keras.random.SeedGenerator(seed)
        n = int(num_samples)
        grids = np.zeros((n, *self.grid), np.int32)
        for i in range(self.grid[0]):
            for j in range(self.grid[1]):
                logits = self.prior_network(ops.convert_to_tensor(grids), training=False)[:, i, j, :]
                drawn = keras.random.categorical(nets.f32(logits), 1, seed=generator)
                grids[:, i, j] = ops.convert_to_numpy(drawn)[:, 0]
        return grids

    def images_of(self, codes):
        """Decoded code vectors (a grid of them per image) as float32 [0, 1] numpy images."""
        return np.clip(ops.convert_to_numpy(self.decoder(codes, training=False)), 0.0, 1.0).astype(np.float32)

    def decode_code_grids(self, grids):
        return self.images_of(self.quantizer.lookup(ops.convert_to_tensor(np.asarray(grids, np.int32))))

    def generate(self, num_samples, seed=None):
        """Images of code grids drawn from the learnt PixelCNN prior (never a
        Gaussian); float32 in [0, 1], (N, H, W, C)."""
        return self.decode_code_grids(self.sample_code_grids(num_samples, seed))

    def encode(self, images):
        """``(z_e, log_var)``: the encoder's output grid flattened (before
        quantisation, so that straight lines between two images pass through
        other codes), and the constant :data:`POINT_MASS_LOG_VAR`."""
        z = ops.convert_to_numpy(self.encoder(ops.convert_to_tensor(np.asarray(images, np.float32)),
                                              training=False)).astype(np.float32)
        z = z.reshape(len(z), -1)
        return z, np.full_like(z, POINT_MASS_LOG_VAR)

    def decode(self, z):
        """Flattened encoder outputs -> quantised -> images in [0, 1]."""
        z = ops.convert_to_tensor(np.asarray(z, np.float32).reshape(-1, *self.grid, self.code_dim))
        return self.images_of(self.codebook_network(z, training=False)[0])
