"""Layers that compute what Keras' do, faster where a backend is slow.

Models import these in place of ``keras.layers``' own: same arguments, same
weights, same outputs (to float rounding), so a checkpoint written with one
loads into the other.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["BatchNormalization", "Conv2DTranspose", "subpixel_conv_transpose"]


def _same_crop(kernel: int, stride: int) -> int:
    # What a stride-`stride` "same" convolution pads before; its transpose crops that much.
    return max(kernel - stride, 0) // 2


def subpixel_conv_transpose(inputs, kernel, strides, padding="same"):
    """A 2-D transposed convolution as one stride-1 convolution and an interleave.

    Output pixel ``y = q*s + r`` of a stride-``s`` transposed convolution only
    sees the kernel taps ``t = r + m*s``. So the ``s*s`` output phases are a
    regular convolution of the input with a ``ceil(k/s)``-wide kernel that has
    ``s*s`` times the output channels, followed by a depth-to-space interleave
    (Shi et al. 2016). XLA's CPU gradient of the transposed form is slow
    (jax-ml/jax#23783); of this form it is an ordinary convolution's.

    Args:
        inputs: ``(batch, height, width, in_channels)``.
        kernel: ``(kh, kw, out_channels, in_channels)``, Keras' layout for
            ``Conv2DTranspose``.
        strides: ``(sh, sw)``.
        padding: ``"same"`` or ``"valid"``, as in ``keras.ops.conv_transpose``
            with ``output_padding=None`` and ``dilation_rate=1``.

    Returns:
        ``(batch, out_height, out_width, out_channels)``, the same tensor
        ``keras.ops.conv_transpose`` returns.
    """
    kh, kw, cout, cin = kernel.shape
    sh, sw = strides
    height, width = inputs.shape[1], inputs.shape[2]
    mh, mw = -(-kh // sh), -(-kw // sw)  # taps per phase, ceil(k / s)
    # Tap t = m*s + r of the kernel goes to position M-1-m of phase r's kernel.
    taps = ops.pad(kernel, [[0, mh * sh - kh], [0, mw * sw - kw], [0, 0], [0, 0]])
    taps = ops.reshape(taps, (mh, sh, mw, sw, cout, cin))
    taps = ops.flip(ops.flip(taps, axis=0), axis=2)
    taps = ops.transpose(taps, (0, 2, 5, 1, 3, 4))  # (mh, mw, cin, sh, sw, cout)
    taps = ops.reshape(taps, (mh, mw, cin, sh * sw * cout))

    padded = ops.pad(inputs, [[0, 0], [mh - 1, mh - 1], [mw - 1, mw - 1], [0, 0]])
    phases = ops.conv(padded, taps, strides=1, padding="valid")
    qh, qw = height + mh - 1, width + mw - 1
    phases = ops.reshape(phases, (-1, qh, qw, sh, sw, cout))
    full = ops.reshape(ops.transpose(phases, (0, 1, 3, 2, 4, 5)), (-1, qh * sh, qw * sw, cout))
    if padding == "same":
        top, left = _same_crop(kh, sh), _same_crop(kw, sw)
        return full[:, top:top + height * sh, left:left + width * sw, :]
    return full[:, : (height - 1) * sh + kh, : (width - 1) * sw + kw, :]


@keras.saving.register_keras_serializable(package="zoo")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose``, computed as a sub-pixel convolution on JAX.

    On the JAX backend a stride-2 transposed convolution with 8 or more
    filters trains 1.4-17 times faster this way on a CPU, the more filters the
    more (``benchmarks/fast_layers.py``). With 1-3 filters (an image
    output layer), at stride 1, and on TensorFlow and PyTorch, Keras' own
    kernel is faster, so it is kept; so it is for what the sub-pixel form does
    not cover (dilation, ``output_padding``, ``channels_first``).
    """

    #: Below this many filters XLA's own transposed convolution is as fast or faster.
    MIN_SUBPIXEL_FILTERS = 8

    def _subpixel(self) -> bool:
        return (
            keras.backend.backend() == "jax"
            and max(self.strides) > 1
            and self.filters >= self.MIN_SUBPIXEL_FILTERS
            and self.output_padding is None
            and tuple(self.dilation_rate) == (1, 1)
            and self.data_format == "channels_last"
            and self.padding in ("same", "valid")
        )

    def call(self, inputs):
        if not self._subpixel():
            return super().call(inputs)
        outputs = subpixel_conv_transpose(inputs, self.kernel, tuple(self.strides), self.padding)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="zoo")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization``, with one fused kernel per training step
    on TensorFlow and PyTorch.

    Keras computes a batch's moments and the normalisation as separate
    element-wise passes, forward and backward. TensorFlow's
    ``FusedBatchNormV3`` and PyTorch's ``native_batch_norm`` do each in one.
    On TensorFlow a DCGAN generator step (batch 128) is 1.20-1.27 times faster,
    and its discriminator step 1.10-1.25, on the CPUs measured. On PyTorch the
    gain was 1.10-1.15 on an Intel CPU and within noise on an AMD one
    (``benchmarks/fast_layers.py``, RESULTS.md). The outputs and the moving statistics
    are Keras' own to float rounding; inference, JAX (whose compiler fuses the
    passes already), masks, ``renorm`` and ``synchronized`` use Keras' code.
    """

    def _fused(self, inputs, training, mask) -> bool:
        return (
            bool(training)
            and self.trainable
            and mask is None
            and not self.renorm
            and not getattr(self, "synchronized", False)
            and self.axis in (-1, len(inputs.shape) - 1)
            and keras.backend.backend() in ("tensorflow", "torch")
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        if keras.backend.backend() == "tensorflow":
            outputs, mean, variance = self._tensorflow_batch_norm(inputs)
        else:
            outputs, mean, variance = self._torch_batch_norm(inputs)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return ops.cast(outputs, self.compute_dtype)

    def _scale_and_offset(self, channels):
        gamma = ops.cast(self.gamma, "float32") if self.scale else ops.ones((channels,), "float32")
        beta = ops.cast(self.beta, "float32") if self.center else ops.zeros((channels,), "float32")
        return gamma, beta

    def _tensorflow_batch_norm(self, inputs):
        import tensorflow as tf

        x = tf.cast(inputs, "float32")
        channels = x.shape[-1]
        if len(x.shape) != 4:  # the fused kernel takes NHWC; statistics are per channel either way
            x = tf.reshape(x, (-1, 1, 1, channels))
        gamma, beta = self._scale_and_offset(channels)
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x, gamma, beta, epsilon=self.epsilon, is_training=True
        )
        # TensorFlow returns the Bessel-corrected variance; Keras averages the biased one.
        count = tf.cast(tf.size(x) // channels, "float32")
        variance = variance * tf.maximum(count - 1.0, 0.0) / count
        return tf.reshape(y, tf.shape(inputs)), tf.stop_gradient(mean), tf.stop_gradient(variance)

    def _torch_batch_norm(self, inputs):
        import torch

        x = inputs.float().movedim(-1, 1)  # a view; batch norm reads channels-last strides as they are
        gamma, beta = self._scale_and_offset(x.shape[1])
        y, mean, inv_std = torch.ops.aten.native_batch_norm(x, gamma, beta, None, None, True, 0.0, self.epsilon)
        variance = torch.clamp(inv_std.detach() ** -2 - self.epsilon, min=0.0)
        return y.movedim(1, -1), mean.detach(), variance
