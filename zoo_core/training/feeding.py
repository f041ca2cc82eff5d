"""How zoo hands a run's arrays to ``fit`` and ``evaluate``.

zoo calls ``fit`` once per epoch, on that epoch's order of the data (so a run
resumes on exactly the batches it would have seen). On TensorFlow, Keras turns
numpy arrays into a new ``tf.data`` pipeline on every call, with an autotuned
parallel map. Measured on a 2-core CPU (``benchmarks/RESULTS.md``), tearing
that pipeline down at the end of a ``fit`` call stalled for about 0.6 s in
close to half the epochs of ``gan-mnist``, whose epochs of 4,480 images
otherwise take 1.9 s.

So on TensorFlow zoo converts the arrays to tensors once per run and feeds each
epoch through a small pipeline of its own: batches of indices in the epoch's
order, a gather, a fixed prefetch of two batches and no autotuning. The other
backends get the numpy arrays, as before.

A streamed split (:class:`zoo_core.data.stream.DiskImages`, e.g. an image folder)
is fed through a ``keras.utils.PyDataset`` on every backend: each batch is read
from zoo's 8-bit on-disk cache by two threads ahead of the train step, in the
epoch's order, so memory holds a few batches, not the data set.

An error zoo raises while reading such a batch (its cache damaged meanwhile)
reaches the user as the line zoo wrote: the backend's data pipeline would wrap
it in an error of its own, with both tracebacks (TensorFlow's ``UnknownError:
Graph execution error``), so the feeder keeps the original and
:meth:`Feeder.own_errors` raises it in place of the wrapper.

Keras is imported inside functions only.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Optional

import numpy as np

from ..errors import ZooError
from ..data.stream import is_streamed


class Feeder:
    """One split's arrays (images, and labels when the model wants them),
    ready to be fed to ``fit`` / ``evaluate`` in any order."""

    #: Batches ``tf.data`` prepares ahead of the train step.
    PREFETCH = 2

    def __init__(self, arrays: tuple[np.ndarray, ...], batch_size: int, backend: str):
        self.arrays = tuple(arrays)
        self.batch_size = int(batch_size)
        self.backend = backend
        self._tensors = None
        self.streamed = is_streamed(self.arrays[0])
        #: The first ZooError raised while reading a streamed batch, until :meth:`own_errors` raises it.
        self.failure: Optional[ZooError] = None
        if backend == "tensorflow" and not self.streamed:
            import tensorflow as tf

            # Host memory: tf.data runs on the CPU and copies each batch to the device.
            with tf.device("/CPU:0"):
                self._tensors = tuple(tf.convert_to_tensor(a) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    @contextlib.contextmanager
    def own_errors(self, then: Optional[Callable[[], str]] = None) -> Iterator[None]:
        """Around ``fit`` / ``evaluate`` on this feeder's inputs: whatever the backend
        raises after a batch failed to load, the batch's own ZooError comes out,
        followed by ``then()`` (what to do next), if given."""
        self.failure = None
        try:
            yield
        except Exception:
            failure, self.failure = self.failure, None
            if failure is None:
                raise
            if then is not None:
                failure.args = (f"{failure}; {then()}",)
            raise failure.with_traceback(None) from None

    def _record(self, error: ZooError) -> None:
        if self.failure is None:  # the first: other reader threads fail after it on the same cause
            self.failure = error

    def fit_inputs(self, order: np.ndarray, flips: np.ndarray | None = None) -> dict[str, Any]:
        """Keyword arguments for ``fit``: the examples at ``order``, in that order;
        with ``flips`` (bools, one per position), those images mirrored left-right."""
        if self.streamed:
            # shuffle=False: Keras would otherwise shuffle a PyDataset's batches.
            return {"x": streamed_batches(self.arrays, order, flips, self.batch_size, self._record),
                    "shuffle": False}
        if self._tensors is not None:
            return {"x": self._dataset(order, flips), "shuffle": False}
        images = self.arrays[0][order]  # a copy: flipping it leaves the data set as it was
        if flips is not None:
            images[flips] = images[flips][:, :, ::-1]
        inputs = {"x": images, "batch_size": self.batch_size, "shuffle": False}
        if len(self.arrays) > 1:
            inputs["y"] = self.arrays[1][order]
        return inputs

    def evaluate_inputs(self) -> dict[str, Any]:
        """Keyword arguments for ``evaluate``: every example, in stored order."""
        if self.streamed:
            return {"x": streamed_batches(self.arrays, np.arange(len(self)), None, self.batch_size, self._record)}
        if self._tensors is not None:
            return {"x": self._dataset(np.arange(len(self)))}
        inputs = {"x": self.arrays[0], "batch_size": self.batch_size}
        if len(self.arrays) > 1:
            inputs["y"] = self.arrays[1]
        return inputs

    def _dataset(self, order: np.ndarray, flips: np.ndarray | None = None):
        import tensorflow as tf

        tensors = self._tensors

        def gather(indices, flip=None):
            batch = [tf.gather(t, indices) for t in tensors]
            if flip is not None:
                batch[0] = tf.where(tf.reshape(flip, (-1, 1, 1, 1)), tf.reverse(batch[0], axis=[2]), batch[0])
            return tuple(batch) if len(batch) > 1 else batch[0]

        positions = np.asarray(order, np.int64)
        slices = positions if flips is None else (positions, np.asarray(flips, bool))
        indices = tf.data.Dataset.from_tensor_slices(slices).batch(self.batch_size)
        dataset = indices.map(gather).prefetch(self.PREFETCH)
        options = tf.data.Options()
        options.autotune.enabled = False
        options.deterministic = True
        # As Keras' own array pipeline: skip the graph rewrites, which cost more than they save here.
        options.experimental_optimization.apply_default_optimizations = False
        return dataset.with_options(options)


#: Threads that read batches ahead of the train step, and how many batches they may hold.
STREAM_WORKERS, STREAM_QUEUE = 2, 4


def streamed_batches(arrays: tuple, order: np.ndarray, flips: np.ndarray | None, batch_size: int,
                     record: Callable[[ZooError], None] = lambda error: None):
    """A ``keras.utils.PyDataset`` of the examples at ``order``, batch by batch:
    images read from disk (mirrored where ``flips`` says), labels from memory.
    A ZooError reading a batch is passed to ``record`` before it propagates."""
    import keras

    class StreamedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=STREAM_WORKERS, use_multiprocessing=False, max_queue_size=STREAM_QUEUE)
            self.order = np.asarray(order, np.int64)
            self.flips = None if flips is None else np.asarray(flips, bool)

        def __len__(self) -> int:
            return -(-len(self.order) // batch_size)

        def __getitem__(self, index: int):
            part = slice(index * batch_size, (index + 1) * batch_size)
            positions = self.order[part]
            try:
                images = arrays[0].read(positions, None if self.flips is None else self.flips[part])
            except ZooError as error:
                record(error)
                raise
            # As Keras packs arrays given to fit: (x,) or (x, y).
            return (images, *(np.asarray(a[positions]) for a in arrays[1:]))

    return StreamedBatches()
