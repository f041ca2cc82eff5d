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


@pytest.mark.parametrize("labelled", [False, True])
def test_flips_mirror_exactly_the_chosen_images(labelled):
    """train.flip: the flagged positions arrive mirrored left-right, the others as
    they are, labels untouched, and the data set itself is never changed."""
    from zoo_core.training.state import epoch_flips

    x = np.random.default_rng(0).uniform(size=(10, 3, 5, 2)).astype(np.float32)
    kept = x.copy()
    y = np.arange(10, dtype=np.int32)
    feeder = Feeder((x, y) if labelled else (x,), batch_size=4, backend=backend())
    order = np.array([7, 2, 9, 0, 5, 1, 8, 3, 6, 4])
    flips = epoch_flips(0, 3, 10)
    assert 0 < flips.sum() < 10
    got = batches(feeder.fit_inputs(order, flips), 4)
    images = np.concatenate([b[0] for b in got])
    expected = np.where(flips[:, None, None, None], x[order][:, :, ::-1], x[order])
    np.testing.assert_array_equal(images, expected)
    if labelled:
        np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), order)
    np.testing.assert_array_equal(x, kept)


def test_flips_are_a_function_of_seed_and_epoch():
    from zoo_core.training.state import epoch_flips

    assert np.array_equal(epoch_flips(1, 2, 50), epoch_flips(1, 2, 50))
    assert not np.array_equal(epoch_flips(1, 2, 50), epoch_flips(1, 3, 50))
    assert 10 < epoch_flips(0, 0, 1000).sum() / 10 < 90


def test_train_flip_runs_end_to_end(cli, tiny_npz, tmp_path):
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 2, "--batch-size", 16,
                 "--set", "flip=true", "--set", "filters=[4]", "--set", "dense_units=4",
                 "--set", "grid_size=2", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "flip = true" in (tmp_path / "run" / "config.toml").read_text()
