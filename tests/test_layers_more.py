"""Identity, Permute, RepeatVector, UnitNormalization, RMSNormalization,
GroupNormalization, GaussianDropout, AlphaDropout and Dot against Keras 3 (jax).

Each layer sits between two Dense layers, so training sends gradients through it.
Parity: Keras's randomized weights copied into ember, same outputs on fresh random
inputs, then two epochs of Adam on the same batches (shuffle=False) and the same
weights; layers with weights also go through `.keras` files both ways. The dropout
layers are random (their draws differ from jax's), so their training-mode outputs
are checked for the statistics Keras's formulas give, their training gradients against
those formulas (one sample, one SGD step), and inference for identity.
"""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

FORWARD_TOL = {"rtol": 1e-5, "atol": 1e-6}


def _randomize(model, rng):
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                       for w in model.weights])


def _sandwich(lib, shape, make):
    """Dense -> layer -> Dense -> Flatten -> Dense(3) on inputs of `shape`. The first Dense
    has no bias: a normalization cancels a constant shift, so that bias's true gradient is
    0 and Adam would amplify the two libraries' rounding noise into full steps."""
    inputs = lib.Input(shape)
    x = lib.layers.Dense(shape[-1], use_bias=False, name="before")(inputs)
    x = make(lib)(x)
    x = lib.layers.Dense(4, name="after")(x)
    if len(x.shape) > 2:
        x = lib.layers.Flatten()(x)
    return lib.Model(inputs, lib.layers.Dense(3, name="head")(x))


SINGLE = {
    "identity": ((3, 5), lambda lib: lib.layers.Identity(name="x")),
    "permute": ((3, 4, 5), lambda lib: lib.layers.Permute((3, 1, 2), name="x")),
    "repeat_vector": ((5,), lambda lib: lib.layers.RepeatVector(3, name="x")),
    "unit_norm": ((3, 6), lambda lib: lib.layers.UnitNormalization(name="x")),
    "unit_norm_axes": ((3, 6), lambda lib: lib.layers.UnitNormalization(axis=[1, 2], name="x")),
    "rms_norm": ((3, 6), lambda lib: lib.layers.RMSNormalization(name="x")),
    "rms_norm_axes": ((3, 6), lambda lib: lib.layers.RMSNormalization(axis=[-2, -1],
                                                                      epsilon=1e-3, name="x")),
    "group_norm": ((3, 8), lambda lib: lib.layers.GroupNormalization(groups=4, name="x")),
    "group_norm_instance": ((3, 4), lambda lib: lib.layers.GroupNormalization(groups=-1,
                                                                              name="x")),
    "group_norm_channels_first": ((4, 3, 6), lambda lib: lib.layers.GroupNormalization(
        groups=2, axis=1, center=False, name="x")),
}


def _chain(lib):
    """The weightless reshaping layers in a row: (3, 4, 5) -> (3, 5, 4) -> (3, 20) ...,
    so one training run sends gradients back through all three."""
    def call(x):
        x = lib.layers.Permute((1, 3, 2))(x)
        x = lib.layers.Reshape((3, 20))(lib.layers.Identity()(x))
        x = lib.layers.Dense(6, name="middle")(lib.layers.Flatten()(x))
        return lib.layers.RepeatVector(2)(x)
    return call


def _twins(keras, rng, shape, make):
    keras_model, ember_model = _sandwich(keras, shape, make), _sandwich(ember, shape, make)
    _randomize(keras_model, rng)
    assert [w.path for w in ember_model.weights] == [w.path for w in keras_model.weights]
    ember_model.set_weights(keras_model.get_weights())
    return keras_model, ember_model


@pytest.mark.parametrize("case", sorted(SINGLE))
def test_layer_matches_keras_forward(keras, rng, case):
    shape, make = SINGLE[case]
    keras_model, ember_model = _twins(keras, rng, shape, make)
    x = rng.normal(size=(9, *shape)).astype("float32")
    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), **FORWARD_TOL)


# Training runs are what take time (Keras compiles each model), so they cover each kind of
# gradient once: the gathers, multi-axis reductions with and without a weight, and groups
# with the channel axis last and first.
TRAINED = {
    "reshaping_chain": ((3, 4, 5), _chain),
    "unit_norm_axes": SINGLE["unit_norm_axes"],
    "rms_norm_axes": SINGLE["rms_norm_axes"],
    "group_norm": SINGLE["group_norm"],
    "group_norm_channels_first": SINGLE["group_norm_channels_first"],
}


@pytest.mark.parametrize("case", sorted(TRAINED))
def test_two_epochs_through_the_layer_match_keras(keras, rng, case):
    shape, make = TRAINED[case]
    keras_model, ember_model = _twins(keras, rng, shape, make)
    x = rng.normal(size=(32, *shape)).astype("float32")
    y = rng.normal(size=(32, 3)).astype("float32")
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")
    keras_model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ember_model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights(), strict=True):
        assert_weights_close(e, k, err_msg=case)


@pytest.mark.parametrize("case", sorted(SINGLE))
def test_config_matches_keras_and_round_trips(keras, case):
    shape, make = SINGLE[case]
    keras_layer, ember_layer = make(keras), make(ember)
    keras_layer.build((None, *shape))
    ember_layer.build((None, *shape))
    keras_config, ember_config = keras_layer.get_config(), ember_layer.get_config()
    keras_config.pop("dtype")
    ember_config.pop("dtype")
    assert ember_config == keras_config
    rebuilt = type(ember_layer).from_config(ember_config).get_config()
    rebuilt.pop("dtype")
    assert rebuilt == ember_config


WITH_WEIGHTS = ["rms_norm_axes", "group_norm_channels_first"]


@pytest.mark.parametrize("case", WITH_WEIGHTS)
def test_keras_files_load_both_ways(keras, rng, tmp_path, case):
    shape, make = SINGLE[case]
    x = rng.normal(size=(5, *shape)).astype("float32")
    keras_model = _sandwich(keras, shape, make)
    _randomize(keras_model, rng)
    keras_model.save(tmp_path / "k.keras")
    loaded = ember.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               **FORWARD_TOL)

    ember_model = _sandwich(ember, shape, make)
    _randomize(ember_model, rng)
    ember_model.save(tmp_path / "e.keras")
    loaded = keras.saving.load_model(tmp_path / "e.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ember_model.predict(x, verbose=0),
                               **FORWARD_TOL)


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: ember.layers.Permute((1, 3)), ValueError, "consecutive and start from 1"),
    (lambda: ember.layers.Permute(2), TypeError, "tuple of integers"),
    (lambda: ember.layers.RepeatVector(0), ValueError, "positive integer"),
    (lambda: ember.layers.RepeatVector(2.0), TypeError, "integer value"),
    (lambda: ember.layers.UnitNormalization(axis="x"), TypeError, "axis"),
    (lambda: ember.layers.RMSNormalization(epsilon=-1.0), ValueError, "epsilon"),
    (lambda: ember.layers.GroupNormalization(groups=0), ValueError, "groups"),
    (lambda: ember.layers.GroupNormalization(axis=1.5), TypeError, "axis"),
])
def test_bad_arguments_raise_clearly(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(("layer", "shape", "match"), [
    (lambda: ember.layers.Permute((2, 1)), (3, 4, 5), "expected ndim=3"),
    (lambda: ember.layers.RepeatVector(2), (3, 4), "expected ndim=2"),
    (lambda: ember.layers.UnitNormalization(axis=3), (3, 4), "out of bounds"),
    (lambda: ember.layers.RMSNormalization(axis=0), (3, 4), "batch axis"),
    (lambda: ember.layers.GroupNormalization(groups=3), (3, 4), "multiple"),
    (lambda: ember.layers.GroupNormalization(groups=8), (3, 4), "cannot be more"),
])
def test_inputs_the_layer_cannot_take_raise_clearly(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        ember.Sequential([ember.Input(shape), layer()])


# ---- GaussianDropout and AlphaDropout ---------------------------------------------------------
SELU_ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.GaussianDropout(0.3, seed=4, name="x"),
    lambda lib: lib.layers.AlphaDropout(0.2, noise_shape=(None, 1, 5), seed=4, name="x"),
], ids=["gaussian_dropout", "alpha_dropout"])
def test_dropout_config_matches_keras_and_inference_passes_through(keras, rng, make):
    keras_config, ember_config = make(keras).get_config(), make(ember).get_config()
    keras_config.pop("dtype")
    ember_config.pop("dtype")
    assert ember_config == keras_config
    x = rng.normal(size=(6, 3, 5)).astype("float32")
    model = ember.Sequential([ember.Input((3, 5)), make(ember)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_gaussian_dropout_multiplies_by_noise_of_keras_mean_and_stddev(rng):
    x = rng.uniform(0.5, 1.5, size=(400, 50)).astype("float32")
    factor = np.asarray(ember.layers.GaussianDropout(0.3)(x, training=True)) / x
    assert abs(factor.mean() - 1.0) < 0.01
    assert abs(factor.std() - np.sqrt(0.3 / 0.7)) < 0.01


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_alpha_dropout_gives_keras_affine_values_and_keeps_the_moments(rng, rate):
    x = rng.normal(size=(400, 50)).astype("float32")
    y = np.asarray(ember.layers.AlphaDropout(rate)(x, training=True))
    a = ((1 - rate) * (1 + rate * SELU_ALPHA_P**2)) ** -0.5
    b = -a * SELU_ALPHA_P * rate
    kept = np.isclose(y, a * x + b, rtol=1e-5, atol=1e-5)
    dropped = np.isclose(y, a * SELU_ALPHA_P + b, rtol=1e-5, atol=1e-5)
    assert (kept | dropped).all()
    assert abs(dropped.mean() - rate) < 0.01
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02


def test_alpha_dropout_noise_shape_drops_whole_rows(rng):
    x = rng.normal(size=(300, 4, 6)).astype("float32")
    y = np.asarray(ember.layers.AlphaDropout(0.5, noise_shape=(None, 4, 1))(x, training=True))
    a = (0.5 * (1 + 0.5 * SELU_ALPHA_P**2)) ** -0.5
    dropped = np.isclose(y, a * SELU_ALPHA_P - a * SELU_ALPHA_P * 0.5, atol=1e-5)
    assert (dropped.all(axis=-1) | ~dropped.any(axis=-1)).all()
    assert 0.4 < dropped.mean() < 0.6


@pytest.mark.parametrize("layer", [ember.layers.GaussianDropout, ember.layers.AlphaDropout])
def test_dropout_rates_outside_zero_to_one_raise(layer):
    for rate in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="rate"):
            layer(rate)


# ---- Dot --------------------------------------------------------------------------------------
DOT_CASES = [((5,), (5,), 1, False), ((5,), (5,), -1, True), ((3, 5), (4, 5), 2, False),
             ((3, 5), (3, 4), (1, 1), True), ((2, 3, 5), (5,), (3, 1), False),
             ((4,), (3, 4, 2), (1, 2), False), ((2, 3, 4), (3, 2, 4), (1, 2), False)]


def _dot_model(lib, shapes, axes, normalize):
    inputs = [lib.Input(shape) for shape in shapes]
    branches = [lib.layers.Dense(shape[-1], name=f"branch_{i}")(x)
                for i, (shape, x) in enumerate(zip(shapes, inputs))]
    out = lib.layers.Dot(axes, normalize=normalize, name="dot")(branches)
    if len(out.shape) > 2:
        out = lib.layers.Flatten()(out)
    return lib.Model(inputs, lib.layers.Dense(2, name="head")(out))


@pytest.mark.parametrize(("shape1", "shape2", "axes", "normalize"), DOT_CASES)
def test_dot_matches_keras_forward(keras, rng, shape1, shape2, axes, normalize):
    keras_model = _dot_model(keras, (shape1, shape2), axes, normalize)
    ember_model = _dot_model(ember, (shape1, shape2), axes, normalize)
    assert ember_model.get_layer("dot").output.shape == keras_model.get_layer("dot").output.shape
    _randomize(keras_model, rng)
    ember_model.set_weights(keras_model.get_weights())
    xs = [rng.normal(size=(7, *s)).astype("float32") for s in (shape1, shape2)]
    desired = keras_model.predict(xs, verbose=0)
    # The head sums products of size ~10 that may cancel to ~0.1: float32 rounding is
    # absolute in the terms' size, so atol scales with the outputs' (a wrong Dot is off by O(1)).
    np.testing.assert_allclose(ember_model.predict(xs, verbose=0), desired, rtol=1e-5,
                               atol=1e-6 * max(1.0, float(np.abs(desired).max())))


@pytest.mark.parametrize(("shape1", "shape2", "axes", "normalize"), [DOT_CASES[3]])
def test_training_through_dot_matches_keras(keras, rng, shape1, shape2, axes, normalize):
    keras_model = _dot_model(keras, (shape1, shape2), axes, normalize)
    ember_model = _dot_model(ember, (shape1, shape2), axes, normalize)
    _randomize(keras_model, rng)
    ember_model.set_weights(keras_model.get_weights())
    xs = [rng.normal(size=(32, *s)).astype("float32") for s in (shape1, shape2)]
    y = rng.normal(size=(32, 2)).astype("float32")
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")
    keras_model.fit(xs, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ember_model.fit(xs, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights(), strict=True):
        assert_weights_close(e, k)


def test_dot_config_matches_keras_and_eager_call(keras, rng):
    keras_config = keras.layers.Dot((1, 2), normalize=True, name="d").get_config()
    ember_config = ember.layers.Dot((1, 2), normalize=True, name="d").get_config()
    keras_config.pop("dtype")
    ember_config.pop("dtype")
    assert ember_config == keras_config
    a, b = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 6, 4))
    np.testing.assert_allclose(ember.layers.dot([a, b], axes=(1, 2)),
                               np.einsum("bkm,bnk->bmn", a, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("axes", "shapes", "error", "match"), [
    ("1", [(3,), (3,)], TypeError, "axes"),
    ((1, 2, 3), [(3,), (3,)], ValueError, "two elements"),
    (1, [(3,), (4,)], ValueError, "Incompatible input shapes"),
    (0, [(3,), (3,)], ValueError, "axis 0"),
    (4, [(3,), (3,)], ValueError, "out of range"),
])
def test_dot_bad_axes_raise_clearly(axes, shapes, error, match):
    with pytest.raises(error, match=match):
        inputs = [ember.Input(s) for s in shapes]
        ember.layers.Dot(axes)(inputs)


# ---- 3-D shape layers -------------------------------------------------------------------------
SHAPE_3D = {
    "zero_padding": lambda lib, fmt: lib.layers.ZeroPadding3D(((1, 0), 2, (0, 1)),
                                                              data_format=fmt),
    "cropping": lambda lib, fmt: lib.layers.Cropping3D(((1, 0), 1, (0, 2)), data_format=fmt),
    "up_sampling": lambda lib, fmt: lib.layers.UpSampling3D((2, 1, 3), data_format=fmt),
}


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", sorted(SHAPE_3D))
def test_3d_shape_layer_matches_keras_and_its_config(keras, rng, case, fmt):
    x = rng.normal(size=(2, 3, 4, 5, 6)).astype("float32")
    keras_layer, ember_layer = SHAPE_3D[case](keras, fmt), SHAPE_3D[case](ember, fmt)
    expected = np.asarray(keras_layer(x))
    assert ember_layer.compute_output_shape(x.shape) == expected.shape
    np.testing.assert_array_equal(ember_layer(x), expected)
    keras_config, ember_config = keras_layer.get_config(), ember_layer.get_config()
    keras_config.pop("dtype"), ember_config.pop("dtype"), keras_config.pop("name")
    ember_config.pop("name")
    assert ember_config == keras_config


def test_training_through_the_3d_shape_layers_matches_keras(keras, rng):
    def build(lib):
        inputs = lib.Input((3, 4, 5, 2))
        x = lib.layers.Dense(2, use_bias=False)(inputs)
        x = lib.layers.ZeroPadding3D(1)(x)
        x = lib.layers.Cropping3D(((0, 1), (1, 0), (2, 1)))(x)
        x = lib.layers.UpSampling3D((1, 2, 2))(x)
        return lib.Model(inputs, lib.layers.Dense(3)(lib.layers.Flatten()(x)))

    keras_model, ember_model = build(keras), build(ember)
    _randomize(keras_model, rng)
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(32, 3, 4, 5, 2)).astype("float32")
    y = rng.normal(size=(32, 3)).astype("float32")
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")
    keras_model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ember_model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights(), strict=True):
        assert_weights_close(e, k)


def test_spatial_dropout_3d_drops_whole_volumes_per_channel(keras, rng):
    x = rng.uniform(0.5, 1.5, size=(40, 2, 3, 2, 8)).astype("float32")
    y = np.asarray(ember.layers.SpatialDropout3D(0.5)(x, training=True))
    zero = y == 0
    assert (zero.all(axis=(1, 2, 3)) | ~zero.any(axis=(1, 2, 3))).all()
    np.testing.assert_allclose(y[~zero], 2 * x[~zero], rtol=1e-6)
    layer = ember.layers.SpatialDropout3D(0.2, data_format="channels_first", seed=3, name="s")
    assert layer.get_config() == {**keras.layers.SpatialDropout3D(
        0.2, data_format="channels_first", seed=3, name="s").get_config(), "dtype": "float32"}


@pytest.mark.parametrize(("make", "match"), [
    (lambda: ember.layers.ZeroPadding3D((1, 2)), "3 elements"),
    (lambda: ember.layers.ZeroPadding3D(-1), "cannot be negative"),
    (lambda: ember.layers.Cropping3D(1.5), "should be either an int"),
    (lambda: ember.layers.UpSampling3D((2, 2)), "size"),
])
def test_3d_shape_layer_bad_arguments_raise_clearly(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_cropping_3d_more_than_the_volume_raises():
    with pytest.raises(ValueError, match="smaller than the corresponding spatial dimension"):
        ember.Sequential([ember.Input((2, 4, 4, 1)), ember.layers.Cropping3D(1)])


@pytest.mark.parametrize("make", [lambda: ember.layers.GaussianDropout(0.5),
                                  lambda: ember.layers.AlphaDropout(0.3)],
                         ids=["gaussian_dropout", "alpha_dropout"])
def test_training_gradient_through_the_dropout_is_keras_formula(rng, make):
    """out = f(w * x) for one sample and weight: from the step's loss r**2 and SGD's update
    of w, the draw and the gradient must agree with Keras's formula (GaussianDropout:
    out = z * noise, d out / dz = noise; AlphaDropout: out = a * z + b where kept, d = a,
    and a constant where dropped, d = 0)."""
    layer = make()
    model = ember.Sequential([ember.Input((1,)), ember.layers.Dense(1, use_bias=False), layer])
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=0.1), loss="mse")
    rate = layer.rate
    a = ((1 - rate) * (1 + rate * SELU_ALPHA_P**2)) ** -0.5
    b = -a * SELU_ALPHA_P * rate
    for _ in range(6):
        x, y = rng.uniform(0.5, 1.5, size=(1, 1)), rng.normal(size=(1, 1))
        w = float(model.get_weights()[0][0, 0])
        loss = model.fit(x, y, batch_size=1, epochs=1, verbose=0).history["loss"][0]
        step = float(model.get_weights()[0][0, 0]) - w
        z, y = w * float(x[0, 0]), float(y[0, 0])
        explained = []
        for r in (np.sqrt(loss), -np.sqrt(loss)):  # the residual out - y, up to its sign
            if isinstance(layer, ember.layers.GaussianDropout):
                d_out_dz = (r + y) / z  # the noise draw
            else:
                kept = np.isclose(r + y, a * z + b, rtol=1e-4, atol=1e-5)
                dropped = np.isclose(r + y, a * SELU_ALPHA_P + b, rtol=1e-4, atol=1e-5)
                if not (kept or dropped):
                    continue
                d_out_dz = a if kept else 0.0
            explained.append(np.isclose(step, -0.1 * 2 * r * d_out_dz * x[0, 0],
                                        rtol=1e-3, atol=1e-6))
        assert any(explained), (loss, step)
