"""Pooling and shape layers of convolutional networks against Keras 3 (jax): MaxPooling,
AveragePooling, GlobalMax/GlobalAveragePooling (1D and 2D), ZeroPadding, Cropping,
UpSampling and SpatialDropout; and BatchNormalization / LayerNormalization on image-shaped
inputs.

Forward passes are compared layer by layer on random inputs over a grid of options; training
parity puts the layers between Dense layers (Dense -> Reshape -> layer -> Flatten -> Dense),
copies Keras's random weights into ember and trains both on the same batches. The kernels
themselves are checked against float64 references and central differences in
cpp/tests/test_backend_ops.cpp. Measured: forward within 2e-7 (bilinear upsampling 1.2e-6
absolute on values of a few units: jax sums the taps in another order), weights after 3 epochs
of Adam within 1e-6.
"""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

FORWARD_TOL = {"rtol": 1e-5, "atol": 1e-6}
BILINEAR_TOL = {"rtol": 1e-5, "atol": 1e-5}
WEIGHTS_TOL = {"rtol": 1e-5, "atol": 1e-6}
LOSS_RTOL = 1e-5


def forward_cases():
    """(layer name, kwargs, input shape without the batch axis)."""
    cases = []
    for name in ("MaxPooling1D", "AveragePooling1D"):
        for pool, strides, padding, fmt in [(2, None, "valid", "channels_last"),
                                            (3, 2, "same", "channels_first"),
                                            (4, 1, "same", "channels_last")]:
            cases.append((name, dict(pool_size=pool, strides=strides, padding=padding,
                                     data_format=fmt), (9, 4)))
    for name in ("MaxPooling2D", "AveragePooling2D"):
        for pool, strides, padding, fmt in [((2, 2), None, "valid", "channels_last"),
                                            ((3, 2), (2, 1), "same", "channels_last"),
                                            ((3, 3), (1, 1), "same", "channels_first"),
                                            ((2, 3), (3, 2), "valid", "channels_first")]:
            cases.append((name, dict(pool_size=pool, strides=strides, padding=padding,
                                     data_format=fmt), (7, 8, 3)))
    for name, shape in [("GlobalMaxPooling1D", (6, 3)), ("GlobalAveragePooling1D", (6, 3)),
                        ("GlobalMaxPooling2D", (4, 5, 3)), ("GlobalAveragePooling2D", (4, 5, 3))]:
        for fmt, keepdims in (("channels_last", False), ("channels_first", True)):
            cases.append((name, dict(data_format=fmt, keepdims=keepdims), shape))
    cases += [
        ("ZeroPadding1D", dict(padding=(0, 3), data_format="channels_first"), (5, 3)),
        ("ZeroPadding2D", dict(), (4, 5, 3)),
        ("ZeroPadding2D", dict(padding=((1, 2), (0, 3)), data_format="channels_first"),
         (3, 4, 5)),
        ("Cropping1D", dict(cropping=(2, 1)), (6, 3)),
        ("Cropping2D", dict(cropping=((1, 2), (0, 1))), (5, 4, 3)),
        ("Cropping2D", dict(cropping=1, data_format="channels_first"), (3, 5, 4)),
        ("UpSampling1D", dict(size=3), (4, 3)),
        ("UpSampling2D", dict(size=2, data_format="channels_first"), (2, 3, 4)),
        ("UpSampling2D", dict(size=(2, 3), interpolation="bilinear"), (3, 4, 2)),
        ("UpSampling2D", dict(size=(3, 2), interpolation="bilinear",
                              data_format="channels_first"), (2, 3, 4)),
    ]
    return cases


def case_id(case):
    name, kwargs, _ = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", forward_cases(), ids=case_id)
def test_forward_and_config_match_keras(keras, rng, case):
    name, kwargs, shape = case
    x = rng.normal(size=(3, *shape)).astype("float32")
    ours, theirs = getattr(ember.layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    tol = BILINEAR_TOL if kwargs.get("interpolation") == "bilinear" else FORWARD_TOL
    expected = np.asarray(theirs(x))
    np.testing.assert_allclose(ours(x), expected, **tol)
    assert ours.compute_output_shape((None, *shape)) == tuple(
        theirs.compute_output_shape((None, *shape)))
    ours_config, theirs_config = ours.get_config(), theirs.get_config()
    for config in (ours_config, theirs_config):
        config.pop("name")
    assert ours_config == theirs_config


# -- training parity ----------------------------------------------------------------------


def spatial_branches(lib, fmt):
    """Image-shaped layers on (6, 6, 4) (or (4, 6, 6) channels_first), each on its own
    branch, Flattened and concatenated."""
    L = lib.layers
    return [
        L.MaxPooling2D(data_format=fmt),
        L.MaxPooling2D((3, 2), strides=(2, 1), padding="same", data_format=fmt),
        L.AveragePooling2D(3, strides=2, padding="same", data_format=fmt),
        L.AveragePooling2D((2, 3), strides=1, data_format=fmt),
        L.GlobalMaxPooling2D(data_format=fmt),
        L.GlobalAveragePooling2D(data_format=fmt, keepdims=True),
        L.ZeroPadding2D(((1, 0), (2, 1)), data_format=fmt),
        L.Cropping2D(((1, 2), (0, 1)), data_format=fmt),
        L.UpSampling2D((2, 1), data_format=fmt),
        L.UpSampling2D(2, interpolation="bilinear", data_format=fmt),
    ]


def sequence_branches(lib, fmt):
    """Sequence-shaped layers on (8, 3) (or (3, 8) channels_first)."""
    L = lib.layers
    branches = [
        L.MaxPooling1D(data_format=fmt),
        L.MaxPooling1D(3, strides=1, padding="same", data_format=fmt),
        L.AveragePooling1D(3, strides=2, padding="same", data_format=fmt),
        L.AveragePooling1D(2, strides=3, data_format=fmt),
        L.GlobalMaxPooling1D(data_format=fmt),
        L.GlobalAveragePooling1D(data_format=fmt),
        L.ZeroPadding1D((2, 1), data_format=fmt),
    ]
    if fmt == "channels_last":  # Cropping1D and UpSampling1D have no data_format
        branches += [L.Cropping1D((1, 2)), L.UpSampling1D(3)]
    return branches


def every_layer_model(lib, dropout_rate=0.2):
    """Dense(tanh) -> Reshape to images and sequences in both data formats -> every layer of
    this file on a branch of its own -> Flatten -> Concatenate -> Dense. tanh keeps the pooled
    values apart (a max pool's winner is never a tie)."""
    L = lib.layers
    inputs = lib.Input((5,))
    flat = []
    for row_shape, branches in [((6, 6, 4), spatial_branches(lib, "channels_last")),
                                ((4, 6, 6), spatial_branches(lib, "channels_first")),
                                ((8, 3), sequence_branches(lib, "channels_last")),
                                ((3, 8), sequence_branches(lib, "channels_first"))]:
        h = L.Dense(int(np.prod(row_shape)), activation="tanh")(inputs)
        h = L.Reshape(row_shape)(h)
        if len(row_shape) == 3:
            fmt = "channels_first" if row_shape[0] == 4 else "channels_last"
            h = L.SpatialDropout2D(dropout_rate, data_format=fmt, seed=1)(h)  # identity outside fit
        flat += [L.Flatten()(layer(h)) for layer in branches]
    outputs = L.Dense(2)(L.Concatenate()(flat))
    return lib.Model(inputs, outputs)


def twins(keras, rng, build):
    keras_model, ember_model = build(keras), build(ember)
    keras_model.set_weights([rng.uniform(0.5, 1.5, size=w.shape).astype("float32")
                             if "variance" in w.path else
                             rng.normal(scale=0.5, size=w.shape).astype("float32")
                             for w in keras_model.weights])
    ember_model.set_weights(keras_model.get_weights())
    return keras_model, ember_model


def assert_outputs_close(actual, expected):
    """Within float32 rounding of the head's sum over hundreds of features: relative to the
    largest output (outputs that cancel to near zero keep the absolute error of the sum)."""
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=1e-5,
                               atol=1e-5 * max(1.0, np.abs(expected).max()))


def train_both_and_compare(keras, keras_model, ember_model, rng):
    x = rng.normal(size=(32, 5)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    assert_outputs_close(ember_model.predict(x, verbose=0), keras_model.predict(x, verbose=0))
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")
    kh = keras_model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    eh = ember_model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=LOSS_RTOL)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights(), strict=True):
        assert_weights_close(e, k, **WEIGHTS_TOL)


def test_training_through_every_layer_matches_keras(keras, rng):
    # SpatialDropout's masks are random in both libraries: its branches run at rate 0 here
    # (its training behaviour is tested below); everything else trains as in Keras.
    def build(lib):
        return every_layer_model(lib, dropout_rate=0.0)

    train_both_and_compare(keras, *twins(keras, rng, build), rng)


def sgd_step(lib, model, x, y):
    model.compile(optimizer=lib.optimizers.SGD(learning_rate=1.0), loss="mse")
    model.train_on_batch(x, y)
    return model.get_weights()


def test_max_pooling_routes_a_tie_to_the_element_keras_chooses(keras, rng):
    # A Dense with one input and equal kernel entries makes (4, 4, 2) images of equal values:
    # every window is a tie. Its kernel's gradient says which element got each window's
    # gradient: the first in row-major order for XLA's select-and-scatter.
    pools = [dict(pool_size=2), dict(pool_size=3, strides=1, padding="same"),
             dict(pool_size=(3, 2), strides=(1, 2), padding="same",
                  data_format="channels_first")]

    def build(lib):
        L = lib.layers
        inputs = lib.Input((1,))
        flat = []
        for pool in pools:
            h = L.Reshape((4, 4, 2))(L.Dense(32, use_bias=False)(inputs))
            flat.append(L.Flatten()(L.MaxPooling2D(**pool)(h)))
        return lib.Model(inputs, L.Dense(1)(L.Concatenate()(flat)))

    keras_model, ember_model = build(keras), build(ember)
    tied = np.full((1, 32), 0.7, "float32")
    weights = [tied if w.shape == (1, 32) else
               rng.normal(size=w.shape).astype("float32") for w in keras_model.weights]
    for m in (keras_model, ember_model):
        m.set_weights(weights)
    x = np.array([[1.5]], "float32")
    y = rng.normal(size=(1, 1)).astype("float32")
    ours, theirs = sgd_step(ember, ember_model, x, y), sgd_step(keras, keras_model, x, y)
    for i in range(len(pools)):
        assert np.count_nonzero(ours[i] != tied) > 0
        # Steps of ~1 that sum several windows' gradients: float32 sums in other orders;
        # a gradient routed elsewhere is off by a whole step.
        np.testing.assert_allclose(ours[i], theirs[i], rtol=1e-4, atol=1e-4)


# -- SpatialDropout ----------------------------------------------------------------------


@pytest.mark.parametrize("layer, shape, channel_axis", [
    (lambda lib: lib.layers.SpatialDropout1D(0.5, seed=3), (12, 16), 2),
    (lambda lib: lib.layers.SpatialDropout2D(0.5, seed=3), (5, 6, 16), 3),
    (lambda lib: lib.layers.SpatialDropout2D(0.5, data_format="channels_first", seed=3),
     (16, 5, 6), 1),
], ids=["1d", "2d", "2d-channels_first"])
def test_spatial_dropout_drops_whole_channels_in_training_only(keras, rng, layer, shape,
                                                                channel_axis):
    x = rng.uniform(0.5, 1.5, size=(4, *shape)).astype("float32")
    ours = layer(ember)
    np.testing.assert_array_equal(ours(x), x)
    y = ours(x, training=True)
    dropped = y == 0
    spatial = tuple(a for a in range(1, y.ndim) if a != channel_axis)
    # Per sample and channel: all dropped or all kept (then scaled by 1 / (1 - rate)).
    assert np.all(dropped.all(axis=spatial) | (~dropped).all(axis=spatial))
    assert 0 < dropped.mean() < 1
    np.testing.assert_allclose(y[~dropped], x[~dropped] * 2, rtol=1e-6)
    ours_config, theirs_config = ours.get_config(), layer(keras).get_config()
    assert ours_config.pop("name").startswith("spatial_dropout")
    theirs_config.pop("name")
    assert ours_config == theirs_config


# -- normalization on images --------------------------------------------------------------


NORM_MODELS = {
    "bn-channels_last": lambda lib: [lib.layers.Reshape((4, 4, 3)),
                                     lib.layers.BatchNormalization()],
    "bn-channels_first": lambda lib: [lib.layers.Reshape((3, 4, 4)),
                                      lib.layers.BatchNormalization(axis=1)],
    "ln-channels_last": lambda lib: [lib.layers.Reshape((4, 4, 3)),
                                     lib.layers.LayerNormalization()],
    "ln-image": lambda lib: [lib.layers.Reshape((4, 4, 3)),
                             lib.layers.LayerNormalization(axis=[1, 2, 3])],
    "ln-channels_first": lambda lib: [lib.layers.Reshape((3, 4, 4)),
                                      lib.layers.LayerNormalization(axis=1)],
}


def test_normalization_of_images_trains_like_keras(keras, rng):
    def build(lib):
        L = lib.layers
        inputs = lib.Input((5,))
        # One Dense before every branch: Keras lists a functional model's weights by depth,
        # so weighted layers at the same depth keep their order in both libraries.
        shared = L.Dense(48, activation="tanh")(inputs)
        flat = []
        for make in NORM_MODELS.values():
            h = shared
            for layer in make(lib):
                h = layer(h)
            flat.append(L.Flatten()(L.MaxPooling2D()(h)))
        return lib.Model(inputs, L.Dense(2)(L.Concatenate()(flat)))

    train_both_and_compare(keras, *twins(keras, rng, build), rng)


# -- files --------------------------------------------------------------------------------


def test_files_move_both_ways_with_keras(keras, rng, tmp_path):
    x = rng.normal(size=(6, 5)).astype("float32")

    def randomized(model):
        model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                           for w in model.weights])
        return model

    def predict(model):
        return np.asarray(model.predict(x, verbose=0) if isinstance(model, ember.Model)
                          else model(x))

    for writer, reader in ((ember, keras), (keras, ember)):
        model = randomized(every_layer_model(writer))
        expected = predict(model)
        for ext in (".keras", ".h5"):
            model.save(tmp_path / f"{writer.__name__}{ext}")
            loaded = reader.models.load_model(tmp_path / f"{writer.__name__}{ext}",
                                              compile=False)
            assert_outputs_close(predict(loaded), expected)
        model.save_weights(tmp_path / f"{writer.__name__}.weights.h5")
        fresh = every_layer_model(reader)
        fresh.load_weights(tmp_path / f"{writer.__name__}.weights.h5")
        assert_outputs_close(predict(fresh), expected)


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("make, shape, match", [
    (lambda: ember.layers.MaxPooling2D(), (None, 8, 3), "expected ndim=4, found ndim=3"),
    (lambda: ember.layers.AveragePooling1D(2), (None, 4, 4, 3), "expected ndim=3"),
    (lambda: ember.layers.GlobalAveragePooling2D(), (None, 4, 3), "expected ndim=4"),
    (lambda: ember.layers.UpSampling2D(), (None, 4, 3), "expected ndim=4"),
    (lambda: ember.layers.Cropping1D(), (None, 4, 4, 3), "expected ndim=3"),
    (lambda: ember.layers.SpatialDropout2D(0.5), (None, 4, 3), "expected ndim=4"),
    (lambda: ember.layers.MaxPooling2D((5, 2)), (None, 4, 4, 3),
     "Computed output size would be zero or negative"),
    (lambda: ember.layers.AveragePooling1D(3, data_format="channels_first"), (None, 5, 2),
     "Computed output size would be zero or negative"),
    (lambda: ember.layers.Cropping1D((2, 2)), (None, 4, 3), "must be smaller than the input"),
    (lambda: ember.layers.Cropping2D(((0, 0), (3, 2))), (None, 4, 5, 3),
     "should be smaller than the corresponding spatial dimension"),
], ids=["max2d-rank", "avg1d-rank", "global-rank", "upsampling-rank", "cropping-rank",
        "spatial-dropout-rank", "pool-too-large", "pool-too-large-channels-first",
        "crop-everything-1d", "crop-everything-2d"])
def test_bad_input_shapes_raise_clear_errors(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(ember.Input(shape[1:]))


@pytest.mark.parametrize("make, match", [
    (lambda: ember.layers.MaxPooling2D(padding="full"), "must be either 'valid' or 'same'"),
    (lambda: ember.layers.MaxPooling2D((2, 2, 2)), "must be a tuple of 2 integers"),
    (lambda: ember.layers.AveragePooling1D(0), "do not satisfy"),
    (lambda: ember.layers.MaxPooling1D(2, strides=0), "must be positive"),
    (lambda: ember.layers.MaxPooling2D(data_format="channels_middle"), "data_format"),
    (lambda: ember.layers.ZeroPadding1D(-1), "do not satisfy"),
    (lambda: ember.layers.ZeroPadding2D(((1, -1), (0, 0))), "do not satisfy"),
    (lambda: ember.layers.Cropping2D(-1), "cannot be negative"),
    (lambda: ember.layers.Cropping2D((1, 2, 3)), "should have two elements"),
    (lambda: ember.layers.UpSampling1D(0), "positive integer"),
    (lambda: ember.layers.UpSampling2D((2, 0)), "do not satisfy"),
    (lambda: ember.layers.UpSampling2D(interpolation="lanczos9"), "interpolation"),
    (lambda: ember.layers.SpatialDropout1D(1.5), "rate"),
], ids=["padding", "pool-size-length", "pool-size-zero", "strides-zero", "data-format",
        "zero-padding-negative", "zero-padding-2d-negative", "cropping-negative",
        "cropping-length", "upsampling-1d-size", "upsampling-2d-size", "interpolation",
        "spatial-dropout-rate"])
def test_bad_arguments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_upsampling1d_size_must_be_an_int():
    with pytest.raises(TypeError, match="Expected an integer value for `size`"):
        ember.layers.UpSampling1D(2.0)


def test_eager_call_with_a_window_larger_than_the_input_raises():
    with pytest.raises(ValueError, match="zero or negative"):
        ember.layers.MaxPooling1D(4)(np.ones((2, 3, 1), "float32"))
