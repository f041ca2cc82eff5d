"""zoo_core.training.feeding: each epoch's batches are the examples at that epoch's
order, labels aligned, the last batch partial; on TensorFlow through zoo's own
tf.data pipeline, elsewhere as numpy arrays."""

import numpy as np
import pytest

from zoo_core.training.feeding import Feeder


def backend():
    import keras

    return keras.backend.backend()


def batches(inputs, batch_size):
    """What fit() would iterate over, as numpy batches."""
    if not isinstance(inputs["x"], np.ndarray):
        return [tuple(np.asarray(t) for t in (b if isinstance(b, tuple) else (b,)))
                for b in inputs["x"].as_numpy_iterator()]
    arrays = [inputs["x"]] + ([inputs["y"]] if "y" in inputs else [])
    n = len(arrays[0])
    return [tuple(a[i:i + batch_size] for a in arrays) for i in range(0, n, batch_size)]


@pytest.mark.parametrize("labelled", [False, True])
def test_batches_follow_the_order(labelled):
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.arange(10, dtype=np.int32) * 10
    feeder = Feeder((x, y) if labelled else (x,), batch_size=4, backend=backend())
    order = np.array([7, 2, 9, 0, 5, 1, 8, 3, 6, 4])[3:]  # a resumed epoch: the rest of the order
    inputs = feeder.fit_inputs(order)
    assert inputs["shuffle"] is False
    got = batches(inputs, 4)
    assert [len(b[0]) for b in got] == [4, 3]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in got]).ravel(), order)
    if labelled:
        np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), order * 10)
    else:
        assert all(len(b) == 1 for b in got)


def test_evaluate_sees_every_example_once():
    x = np.random.default_rng(0).random((9, 2, 2, 1), dtype=np.float32)
    feeder = Feeder((x,), batch_size=4, backend=backend())
    got = np.concatenate([b[0] for b in batches(feeder.evaluate_inputs(), 4)])
    np.testing.assert_array_equal(got, x)


def test_tensorflow_pipeline_has_no_autotuning():
    if backend() != "tensorflow":
        pytest.skip("the tf.data pipeline is TensorFlow's only")
    dataset = Feeder((np.zeros((8, 2, 2, 1), np.float32),), 4, "tensorflow").fit_inputs(np.arange(8))["x"]
    options = dataset.options()
    assert options.autotune.enabled is False and options.deterministic is True
