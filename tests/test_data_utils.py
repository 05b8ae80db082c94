"""ember.utils's data helpers: pad_sequences and pack/unpack against Keras itself;
timeseries_dataset_from_array and split_dataset (which need TensorFlow in Keras) against
NumPy references written from Keras's code; clear_session, get_source_inputs and
is_keras_tensor."""

import random

import ember
import numpy as np
import pytest
from ember import utils


def _ragged(rng, n=7, longest=9, item_shape=()):
    return [rng.integers(1, 100, (int(rng.integers(0, longest + 1)),) + item_shape).tolist()
            for _ in range(n)]


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 4, 12])
def test_pad_sequences_matches_keras(keras, rng, padding, truncating, maxlen):
    sequences = _ragged(rng)
    ours = utils.pad_sequences(sequences, maxlen=maxlen, padding=padding, truncating=truncating,
                               value=-1)
    theirs = keras.utils.pad_sequences(sequences, maxlen=maxlen, padding=padding,
                                       truncating=truncating, value=-1)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype


def test_pad_sequences_of_vectors_and_floats_matches_keras(keras, rng):
    sequences = [rng.normal(0, 1, (int(k), 3)) for k in rng.integers(1, 6, 5)]
    ours = utils.pad_sequences(sequences, maxlen=4, dtype="float32", value=0.5)
    theirs = keras.utils.pad_sequences(sequences, maxlen=4, dtype="float32", value=0.5)
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_rejects_bad_input():
    with pytest.raises(ValueError, match="iterable"):
        utils.pad_sequences(5)
    with pytest.raises(ValueError, match="Padding type"):
        utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="maxlen"):
        utils.pad_sequences([[1]], maxlen=-2)
    with pytest.raises(ValueError, match="dtype=object"):
        utils.pad_sequences([[1]], value="x")
    assert utils.pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)


@pytest.mark.parametrize("data", [(1, 2), [1, 2], (1,), (1, 2, 3), 7, {"a": 1}])
def test_pack_and_unpack_match_keras(keras, data):
    assert utils.unpack_x_y_sample_weight(data) == \
        keras.utils.unpack_x_y_sample_weight(data)
    x, y, w = utils.unpack_x_y_sample_weight(data)
    assert utils.pack_x_y_sample_weight(x, y, w) == keras.utils.pack_x_y_sample_weight(x, y, w)
    with pytest.raises(ValueError, match="Data is expected"):
        utils.unpack_x_y_sample_weight((1, 2, 3, 4))


# -- timeseries_dataset_from_array -----------------------------------------------------
def reference_windows(data, targets, sequence_length, sequence_stride, sampling_rate,
                      start_index, end_index):
    """Every (window, target) pair Keras's tf pipeline yields, in order (no shuffle)."""
    start_index = start_index or 0
    end_index = end_index or len(data)
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    pairs = []
    for p in range(0, max(num_seqs, 0), sequence_stride):
        window = np.stack([data[start_index + p + j * sampling_rate]
                           for j in range(sequence_length)])
        pairs.append((window, None if targets is None else targets[start_index + p]))
    return pairs


@pytest.mark.parametrize("args", [
    dict(sequence_length=5, sequence_stride=1, sampling_rate=1, batch_size=4),
    dict(sequence_length=3, sequence_stride=2, sampling_rate=3, batch_size=5),
    dict(sequence_length=4, sequence_stride=3, sampling_rate=2, batch_size=None,
         start_index=5, end_index=40),
    dict(sequence_length=6, sequence_stride=1, sampling_rate=1, batch_size=128),
])
@pytest.mark.parametrize("with_targets", [True, False])
def test_timeseries_windows_follow_keras_semantics(rng, args, with_targets):
    data = rng.normal(0, 1, (50, 3)).astype(np.float32)
    targets = rng.normal(0, 1, (50,)).astype(np.float32) if with_targets else None
    ds = utils.timeseries_dataset_from_array(data, targets, **args)
    assert isinstance(ds, utils.PyDataset)
    expected = reference_windows(data, targets, args["sequence_length"],
                                 args["sequence_stride"], args["sampling_rate"],
                                 args.get("start_index"), args.get("end_index"))
    batch_size = args["batch_size"] or len(expected)
    assert len(ds) == -(-len(expected) // batch_size)
    got = []
    for batch in ds:
        windows, batch_targets = batch if with_targets else (batch, None)
        assert len(windows) <= batch_size
        for i in range(len(windows)):
            got.append((windows[i], None if batch_targets is None else batch_targets[i]))
    assert len(got) == len(expected)
    for (w, t), (ew, et) in zip(got, expected):
        np.testing.assert_array_equal(w, ew)
        if with_targets:
            assert t == et


def test_timeseries_shuffle_is_a_seeded_permutation_of_the_windows(rng):
    data = np.arange(40, dtype=np.float32)
    ds = utils.timeseries_dataset_from_array(data, data, sequence_length=3, batch_size=8,
                                             shuffle=True, seed=11)
    firsts = np.concatenate([w[:, 0] for w, _ in ds])
    assert sorted(firsts.tolist()) == list(range(38)) and firsts.tolist() != list(range(38))
    for w, t in ds:
        np.testing.assert_array_equal(w[:, 0], t)  # each window keeps its own target
    again = utils.timeseries_dataset_from_array(data, data, sequence_length=3, batch_size=8,
                                                shuffle=True, seed=11)
    np.testing.assert_array_equal(np.concatenate([w[:, 0] for w, _ in again]), firsts)


def test_a_timeseries_dataset_trains_a_model(rng):
    data = rng.normal(0, 1, (60, 2)).astype(np.float32)
    ds = utils.timeseries_dataset_from_array(data, data[:, 0], sequence_length=4, batch_size=16)
    model = ember.Sequential([ember.Input((4, 2)), ember.layers.Flatten(),
                              ember.layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_timeseries_rejects_bad_arguments():
    data = np.zeros((10, 2), np.float32) + 1.0
    for kwargs, match in [(dict(sampling_rate=0), "sampling_rate"),
                          (dict(sequence_stride=10), "sequence_stride"),
                          (dict(start_index=12), "start_index"),
                          (dict(start_index=5, end_index=3), "end_index"),
                          (dict(batch_size=0), "batch_size")]:
        with pytest.raises(ValueError, match=match):
            utils.timeseries_dataset_from_array(data, None, sequence_length=2, **kwargs)


# -- split_dataset ----------------------------------------------------------------------
def reference_split(n, left_size, right_size, shuffle, seed):
    """Keras's _split_dataset_tf on indices: python's random.seed(seed); shuffle."""
    order = list(range(n))
    if shuffle:
        random.seed(seed)
        random.shuffle(order)
    left = round(left_size * n) if isinstance(left_size, float) else left_size
    right = round(right_size * n) if isinstance(right_size, float) else right_size
    left = n - right if left is None else left
    right = n - left if right is None else right
    return order[:left], order[n - right:]


@pytest.mark.parametrize("sizes", [(0.8, None), (None, 0.3), (7, None), (None, 4), (0.5, 0.25),
                                   (6, 3)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_split_dataset_of_arrays_follows_keras(rng, sizes, shuffle):
    x = rng.normal(0, 1, (20, 3)).astype(np.float32)
    y = rng.integers(0, 5, 20)
    left_idx, right_idx = reference_split(20, *sizes, shuffle, 42)
    left, right = utils.split_dataset((x, y), *sizes, shuffle=shuffle, seed=42)
    assert isinstance(left, tuple) and len(left) == 2
    np.testing.assert_array_equal(left[0], x[left_idx])
    np.testing.assert_array_equal(left[1], y[left_idx])
    np.testing.assert_array_equal(right[0], x[right_idx])
    np.testing.assert_array_equal(right[1], y[right_idx])
    a, b = utils.split_dataset(x, *sizes, shuffle=shuffle, seed=42)
    np.testing.assert_array_equal(a, x[left_idx])
    np.testing.assert_array_equal(b, x[right_idx])
    d1, d2 = utils.split_dataset({"x": x, "y": y}, *sizes, shuffle=shuffle, seed=42)
    np.testing.assert_array_equal(d2["y"], y[right_idx])


def test_split_dataset_of_a_pydataset_splits_its_batches(rng):
    batches = [(rng.normal(0, 1, (4, 2)), rng.normal(0, 1, (4, 1))) for _ in range(10)]

    class Batches(utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i]

    left, right = utils.split_dataset(Batches(), left_size=0.7, shuffle=True, seed=3)
    left_idx, right_idx = reference_split(10, 0.7, None, True, 3)
    assert len(left) == 7 and len(right) == 3
    for got, i in zip(left, left_idx):
        assert got is batches[i]
    for got, i in zip(right, right_idx):
        assert got is batches[i]


def test_split_dataset_rejects_bad_sizes(rng):
    x = rng.normal(0, 1, (10, 2))
    for kwargs, error, match in [
            (dict(), ValueError, "At least one"),
            (dict(left_size=1.5), ValueError, "left_size"),
            (dict(left_size=10), ValueError, "left_size"),
            (dict(left_size=0.6, right_size=0.6), ValueError, "greater than 1"),
            (dict(left_size="half"), TypeError, "left_size"),
            (dict(left_size=0.01), ValueError, "empty")]:
        with pytest.raises(error, match=match):
            utils.split_dataset(x, **kwargs)
    with pytest.raises(ValueError, match="different numbers of samples"):
        utils.split_dataset((x, x[:5]), left_size=0.5)
    with pytest.raises(TypeError, match="dataset"):
        utils.split_dataset(object(), left_size=0.5)


# -- graph helpers -----------------------------------------------------------------------
def test_get_source_inputs_and_is_keras_tensor():
    a, b = ember.Input((3,), name="a"), ember.Input((3,), name="b")
    h = ember.layers.Dense(2)(a)
    out = ember.layers.Concatenate()([ember.layers.Dense(2)(b), h])
    assert utils.get_source_inputs(out) == [b, a]
    assert utils.get_source_inputs(h) == [a]
    assert utils.get_source_inputs(a) == [a]
    assert utils.is_keras_tensor(out) and not utils.is_keras_tensor(np.ones(3))
    with pytest.raises(ValueError, match="KerasTensor"):
        utils.get_source_inputs(np.ones(3))


def test_clear_session_restarts_layer_names():
    ember.layers.Dense(2)
    utils.clear_session()
    assert ember.layers.Dense(2).name == "dense"
    assert ember.layers.Dense(2).name == "dense_1"
    assert utils.clear_session is ember.backend.clear_session
