"""How close TensorFlow's convolutions in the DCGAN step come to the CPU's arithmetic limit.

    python benchmarks/conv_flops.py [--batch 128] [--calls 30]

For each convolution of ``dcgan-mnist`` (and its dense layer), at the preset's
batch size: the median milliseconds of one forward and backward pass (input
and weight gradients) in a ``tf.function``, and the GFLOP/s that makes
(2 FLOPs per multiply-add, backward counted as twice the forward). A layer
near the CPU's peak cannot be made faster by feeding or compiling it
differently; only fewer or cheaper FLOPs (16-bit arithmetic) help.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def forward_backward(op):
    @tf.function
    def step(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = op(x, w)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, w])

    return step


def median_ms(step, x, w, calls: int) -> float:
    for _ in range(3):
        step(x, w)
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        for g in step(x, w):
            g.numpy()
        times.append(time.perf_counter() - began)
    return 1e3 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    b = args.batch
    rng = np.random.default_rng(0)

    def tensor(*shape):
        return tf.constant(rng.standard_normal(shape).astype("float32"))

    def conv(x, w):
        return tf.nn.conv2d(x, w, 2, "SAME")

    def conv_t(shape):
        return lambda x, w: tf.nn.conv2d_transpose(x, w, shape, 2, "SAME")

    # (name, op, input, weight, multiply-adds of the forward pass)
    cases = [
        ("discriminator conv 28x28x1 -> 14x14x64, k4 s2", conv, tensor(b, 28, 28, 1), tensor(4, 4, 1, 64),
         b * 14 * 14 * 64 * 4 * 4 * 1),
        ("discriminator conv 14x14x64 -> 7x7x128, k4 s2", conv, tensor(b, 14, 14, 64), tensor(4, 4, 64, 128),
         b * 7 * 7 * 128 * 4 * 4 * 64),
        ("generator conv-transpose 7x7x128 -> 14x14x64, k4 s2", conv_t((b, 14, 14, 64)), tensor(b, 7, 7, 128),
         tensor(4, 4, 64, 128), b * 7 * 7 * 128 * 4 * 4 * 64),
        ("generator conv-transpose 14x14x64 -> 28x28x1, k4 s2", conv_t((b, 28, 28, 1)), tensor(b, 14, 14, 64),
         tensor(4, 4, 1, 64), b * 14 * 14 * 64 * 4 * 4 * 1),
        ("generator dense 100 -> 6272", lambda x, w: x @ w, tensor(b, 100), tensor(100, 6272), b * 100 * 6272),
    ]
    print(f"tensorflow {tf.__version__}, batch {b}, forward + backward, median of {args.calls} calls")
    for name, op, x, w, macs in cases:
        ms = median_ms(forward_backward(op), x, w, args.calls)
        gflops = 3 * 2 * macs / (ms * 1e-3) / 1e9
        print(f"  {name:55s} {ms:7.2f} ms  {gflops:6.0f} GFLOP/s")


if __name__ == "__main__":
    main()
