"""Plain Keras: a GAN trained with ``model.fit`` by overriding ``train_step``,
written by hand after keras-io's DCGAN example and the "Customizing what
happens in fit()" guides (one train step per backend: ``tf.GradientTape``,
``torch.autograd.grad``, ``jax.value_and_grad``).

The networks and hyper-parameters are those of zoo's presets:

- ``--arch dcgan``: ``dcgan-mnist`` (Radford et al.: transposed convs with batch
  norm, strided-conv discriminator; batch 128, Adam 2e-4, beta_1 0.5)
- ``--arch cgan``:  ``cgan-mnist`` (the same, conditioned on the label through
  an embedding next to z and a label plane next to the image)
- ``--arch mlp``:   ``gan-mnist`` (Goodfellow et al.: dense networks, batch 64)

The loss is the non-saturating one: binary cross-entropy on logits, the
discriminator on a real and a fake batch, then the generator on a fresh fake
batch. The fake batch for the discriminator is generated outside the gradient,
as in keras-io's TensorFlow example.

    KERAS_BACKEND=tensorflow python benchmarks/plain/gan.py --data mnist.npz --arch dcgan
"""

import common

args = common.parse_args(__doc__.splitlines()[0], archs=["dcgan", "cgan", "mlp"])

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

BACKEND = keras.backend.backend()
latent_dim = 100
batch_size = 64 if args.arch == "mlp" else 128
num_classes = 10
conditional = args.arch == "cgan"

x_train, y_train = common.load_data(args.data, args.examples)
image_shape = x_train.shape[1:]
x_train = x_train * 2.0 - 1.0  # the generator's tanh range
if conditional:
    y_train = y_train.reshape(-1, 1)

"""
## The networks
"""


def init():
    return keras.initializers.RandomNormal(stddev=0.02)


def dcgan_generator():
    z = keras.Input((latent_dim,))
    inputs, h = z, z
    if conditional:
        labels = keras.Input((1,), dtype="int32")
        embedded = layers.Flatten()(layers.Embedding(num_classes, 50)(labels))
        inputs, h = [z, labels], layers.Concatenate()([z, embedded])
    h = layers.Dense(7 * 7 * 128, use_bias=False, kernel_initializer=init())(h)
    h = layers.Reshape((7, 7, 128))(h)
    h = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(h))
    h = layers.Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init())(h)
    h = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(h))
    images = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", kernel_initializer=init())(h)
    return keras.Model(inputs, images, name="generator")


def dcgan_discriminator():
    x = keras.Input(image_shape)
    inputs, h = x, x
    if conditional:
        labels = keras.Input((1,), dtype="int32")
        plane = layers.Reshape((28, 28, 1))(layers.Embedding(num_classes, 28 * 28)(labels))
        inputs, h = [x, labels], layers.Concatenate()([x, plane])
    h = layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=init())(h)
    h = layers.LeakyReLU(0.2)(h)
    h = layers.Conv2D(128, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init())(h)
    h = layers.LeakyReLU(0.2)(layers.BatchNormalization(momentum=0.9)(h))
    score = layers.Dense(1, kernel_initializer=init())(layers.Flatten()(h))
    return keras.Model(inputs, score, name="discriminator")


def mlp_generator():
    z = keras.Input((latent_dim,))
    h = z
    for units in (256, 512, 1024):
        h = layers.Dense(units, activation="relu")(h)
    h = layers.Dense(int(np.prod(image_shape)), activation="tanh")(h)
    return keras.Model(z, layers.Reshape(image_shape)(h), name="generator")


def mlp_discriminator():
    x = keras.Input(image_shape)
    h = layers.Flatten()(x)
    for units in (1024, 512, 256):
        h = layers.Dropout(0.3)(layers.LeakyReLU(0.2)(layers.Dense(units)(h)))
    return keras.Model(x, layers.Dense(1)(h), name="discriminator")


"""
## The GAN: the same algorithm, one `train_step` per backend
"""


class GAN(keras.Model):
    def __init__(self, discriminator, generator):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer):
        # JAX's fit carries one optimizer's state through the step; the JAX
        # step below uses that one for both networks.
        super().compile(optimizer=d_optimizer if BACKEND == "jax" else None)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def unpack(self, data):
        if conditional:
            real, labels = data
            return real, ops.cast(labels, "int32")
        return (data[0] if isinstance(data, tuple) else data), None

    def generate(self, batch, labels):
        z = keras.random.normal((batch, latent_dim), seed=self.seed_generator)
        return self.generator([z, labels] if conditional else z, training=True)

    def discriminate(self, images, labels):
        return self.discriminator([images, labels] if conditional else images, training=True)

    def d_loss(self, real, fake, labels):
        real_logits = self.discriminate(real, labels)
        fake_logits = self.discriminate(fake, labels)
        return (self.loss_fn(ops.ones_like(real_logits), real_logits)
                + self.loss_fn(ops.zeros_like(fake_logits), fake_logits))

    def g_loss(self, batch, labels):
        fake_logits = self.discriminate(self.generate(batch, labels), labels)
        return self.loss_fn(ops.ones_like(fake_logits), fake_logits)

    def results(self, d_loss, g_loss):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


if BACKEND == "tensorflow":
    import tensorflow as tf

    class BackendGAN(GAN):
        def train_step(self, data):
            real, labels = self.unpack(data)
            batch = tf.shape(real)[0]
            fake = self.generate(batch, labels)
            with tf.GradientTape() as tape:
                d_loss = self.d_loss(real, fake, labels)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

            with tf.GradientTape() as tape:
                g_loss = self.g_loss(batch, labels)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            return self.results(d_loss, g_loss)

elif BACKEND == "torch":
    import torch

    def update(optimizer, loss, weights):
        # Gradients for this network's weights only: the generator's loss
        # needs none for the discriminator's.
        grads = torch.autograd.grad(loss, [v.value for v in weights])
        with torch.no_grad():
            optimizer.apply(list(grads), weights)

    class BackendGAN(GAN):
        def train_step(self, data):
            real, labels = self.unpack(data)
            batch = real.shape[0]
            with torch.no_grad():
                fake = self.generate(batch, labels)
            d_loss = self.d_loss(real, fake, labels)
            update(self.d_optimizer, d_loss, self.discriminator.trainable_weights)
            g_loss = self.g_loss(batch, labels)
            update(self.g_optimizer, g_loss, self.generator.trainable_weights)
            return self.results(d_loss.detach(), g_loss.detach())

else:
    import warnings

    import jax

    warnings.filterwarnings("ignore", message="Gradients do not exist for variables")

    class BackendGAN(GAN):
        """JAX's fit threads the state of ``self.optimizer`` only, so one Adam
        (built on both networks' weights) updates each network in turn:
        gradients of None leave the other network's weights and slots alone.
        Unlike the other backends, the two updates share Adam's step counter."""

        def stateless(self, trainable, non_trainable, fn):
            """``fn()`` with the model's variables set to these values; returns
            its result and the non-trainable values (batch-norm statistics,
            random-generator states) it leaves behind."""
            mapping = list(zip(self.trainable_variables, trainable))
            mapping += list(zip(self.non_trainable_variables, non_trainable))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                out = fn()
            return out, [scope.get_current_value(v) for v in self.non_trainable_variables]

        def train_step(self, state, data):
            trainable, non_trainable, optimizer_variables, metrics_variables = state
            real, labels = self.unpack(data)
            batch = real.shape[0]
            # The model's trainable weights are the discriminator's, then the generator's.
            n_d = len(self.discriminator.trainable_weights)

            fake, non_trainable = self.stateless(trainable, non_trainable, lambda: self.generate(batch, labels))

            def d_loss_fn(d_weights, non_trainable):
                return self.stateless(d_weights + trainable[n_d:], non_trainable,
                                      lambda: self.d_loss(real, fake, labels))

            (d_loss, non_trainable), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
                trainable[:n_d], non_trainable)
            trainable, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads + [None] * (len(trainable) - n_d), trainable)

            def g_loss_fn(g_weights, non_trainable):
                return self.stateless(trainable[:n_d] + g_weights, non_trainable,
                                      lambda: self.g_loss(batch, labels))

            (g_loss, non_trainable), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
                trainable[n_d:], non_trainable)
            trainable, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, [None] * n_d + grads, trainable)

            mapping = list(zip(self.metrics_variables, metrics_variables))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                logs = self.results(d_loss, g_loss)
            metrics_variables = [scope.get_current_value(v) for v in self.metrics_variables]
            return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


"""
## Train
"""

if args.arch == "mlp":
    gan = BackendGAN(mlp_discriminator(), mlp_generator())
else:
    gan = BackendGAN(dcgan_discriminator(), dcgan_generator())
if BACKEND == "jax":
    optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    optimizer.build(gan.trainable_weights)
    gan.compile(d_optimizer=optimizer, g_optimizer=optimizer)
    assert all(a is b for a, b in zip(gan.trainable_weights, gan.discriminator.trainable_weights))
else:
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
timer = common.make_epoch_timer()
inputs = (x_train, y_train) if conditional else (x_train,)
gan.fit(*inputs, epochs=args.epochs, batch_size=batch_size, callbacks=[timer], verbose=0)
common.report(args, gan, timer, len(x_train), batch_size, f"plain {args.arch} GAN")
