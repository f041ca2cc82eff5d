"""The building blocks the hybrids share, written with ``keras.ops`` and
Keras layers only (no backend code): a strided-conv encoder, a DCGAN-style
decoder, an MLP, the ``"gan"`` loss check and a gradient penalty that works
on any input rank.

Every builder takes primitive hyper-parameters and returns a functional
``keras.Model``, so a model's weights all exist once it is constructed.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo_core.layers import BatchNormalization, Conv2DTranspose

PACKAGE = "zoo_hybrids"


# === Checks a model builder makes ===


def check_loss(loss, methods, needed_by: str):
    """Raise unless ``loss`` has every one of ``methods``; ``needed_by`` ends
    the message (what needs them)."""
    for method in methods:
        if not callable(getattr(loss, method, None)):
            raise ValueError(f"the loss object {loss!r} has no {method}() method, so it does not implement "
                             f"{needed_by}")
    return loss


def check_gan_loss(loss, model: str):
    """Raise unless ``loss`` implements the ``"gan"`` interface."""
    return check_loss(loss, ("discriminator", "generator"), f"the 'gan' loss interface {model}'s adversarial term needs")


def check_image_size(image_shape, filters, what: str = "decoder_filters"):
    """The decoder doubles the size ``len(filters)`` times from a whole number."""
    height, width = int(image_shape[0]), int(image_shape[1])
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        raise ValueError(f"image size {height}x{width} must be divisible by {factor} for {len(filters)} stride-2 "
                         f"decoder layers; resize with --set image_size=N or change {what}")


# === Networks ===


def conv_features(x, filters, kernel_size, norm_after_first=False, prefix=None):
    """Stride-2 convs with leaky ReLU, flattened. ``norm_after_first`` puts
    batch norm after every conv but the first (DCGAN's discriminator);
    ``prefix`` names the convs ``{prefix}conv_{i}``."""
    h = x
    for i, f in enumerate(filters):
        norm = norm_after_first and i > 0
        name = f"{prefix}conv_{i}" if prefix else None
        h = layers.Conv2D(f, kernel_size, strides=2, padding="same", use_bias=not norm, name=name)(h)
        if norm:
            h = BatchNormalization(momentum=0.9)(h)
        h = layers.LeakyReLU(0.2)(h)
    return layers.Flatten()(h)


def conv_encoder(image_shape, filters, units, kernel_size, heads, name="encoder"):
    """Images -> one dense head per ``(name, size)`` in ``heads`` (linear):
    stride-2 convs (leaky ReLU), then a dense layer (leaky ReLU).

    No batch norm: the encoder's codes are what a discriminator judges, and a
    code that depended on the other images in its batch would be judged as
    a batch, not one by one."""
    x = keras.Input(tuple(image_shape), name="images")
    h = layers.LeakyReLU(0.2)(layers.Dense(units)(conv_features(x, filters, kernel_size)))
    outputs = [layers.Dense(size, name=head)(h) for head, size in heads]
    return keras.Model(x, outputs if len(outputs) > 1 else outputs[0], name=name)


def conv_decoder(image_shape, latent_dim, filters, kernel_size, activation, name="decoder"):
    """z -> images: a dense projection to a ``filters[0]``-channel map of
    1/2**len(filters) the image size (batch norm, ReLU), one stride-2
    transposed conv (batch norm, ReLU) per further entry, and a last one that
    outputs the image through ``activation`` (``sigmoid`` or ``tanh``)."""
    height, width, channels = (int(d) for d in image_shape)
    factor = 2 ** len(filters)
    small = (height // factor, width // factor, int(filters[0]))
    z = keras.Input((int(latent_dim),), name="z")
    h = layers.Dense(int(np.prod(small)), use_bias=False)(z)
    h = layers.ReLU()(BatchNormalization(momentum=0.9)(layers.Reshape(small)(h)))
    for f in filters[1:]:
        # A bias before batch norm would be cancelled by it.
        h = Conv2DTranspose(f, kernel_size, strides=2, padding="same", use_bias=False)(h)
        h = layers.ReLU()(BatchNormalization(momentum=0.9)(h))
    images = Conv2DTranspose(channels, kernel_size, strides=2, padding="same", activation=activation,
                             name="images")(h)
    return keras.Model(z, images, name=name)


def mlp(inputs, units, dropout=0.0):
    """Dense layers with leaky ReLU (and dropout), as a GAN discriminator's hidden layers."""
    h = inputs
    for u in units:
        h = layers.LeakyReLU(0.2)(layers.Dense(u)(h))
        if dropout:
            h = layers.Dropout(dropout)(h)
    return h


# === Loss pieces ===


def f32(x):
    return ops.cast(x, "float32")


def sum_per_example(x):
    return ops.sum(ops.reshape(f32(x), (ops.shape(x)[0], -1)), axis=-1)


def gradient_penalty(critic, real, fake, epsilon, input_gradient):
    """Gulrajani et al. (2017): E[(||grad critic(x_hat)||_2 - 1)^2] with
    x_hat = epsilon * real + (1 - epsilon) * fake, one epsilon per example,
    for inputs of any rank (images, latent codes, or a joint input flattened
    into one vector).

    ``input_gradient(fn, x)`` is ``d sum(fn(x)) / dx`` on the running backend
    (:func:`zoo_core.multinet.input_gradient`), differentiable again so the
    penalty trains.
    """
    mixed = epsilon * real + (1.0 - epsilon) * fake
    grads = input_gradient(lambda x: ops.sum(f32(critic(x))), mixed)
    # The epsilon keeps the square root differentiable at a zero gradient.
    norms = ops.sqrt(sum_per_example(ops.square(f32(grads))) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def readout(loss_fn):
    """What ``d_real``/``d_fake`` report for this loss (a probability for the
    logistic losses, the raw score otherwise)."""
    return getattr(loss_fn, "readout", None) or f32
