"""BatchNormalization, LayerNormalization and Normalization against Keras 3 (jax) and
against float64 NumPy references.

Parity tests build the model in Keras and in ember, copy Keras's (randomized) weights
into ember, and train both on the same batches (shuffle=False). Measured: forward
passes agree to ~5e-7, weights and moving statistics after 3 epochs of Adam to ~3e-7,
History's loss to ~1e-6 relative; the tolerances allow a few times that. Gradients are
checked by one SGD step with learning rate 1 (new = old - gradient) against central
differences of a float64 NumPy forward pass.
"""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

FORWARD_TOL = {"rtol": 1e-5, "atol": 1e-6}
WEIGHTS_TOL = {"rtol": 1e-5, "atol": 1e-6}
LOSS_RTOL = 5e-6
GRAD_TOL = {"rtol": 1e-4, "atol": 2e-6}
SAMPLES = 70  # batches of 16: 16, 16, 16, 16, 6


def randomize_weights(model, rng):
    """Random values for every weight (no zeros); variances positive."""
    values = []
    for w in model.weights:
        if "variance" in w.path:
            values.append(rng.uniform(0.5, 1.5, size=w.shape).astype("float32"))
        else:
            values.append(rng.normal(scale=0.5, size=w.shape).astype("float32"))
    model.set_weights(values)


def twins(keras, rng, build):
    keras_model, ember_model = build(keras), build(ember)
    randomize_weights(keras_model, rng)
    ember_model.set_weights(keras_model.get_weights())
    return keras_model, ember_model


def train_both(keras, keras_model, ember_model, x, y, epochs=3):
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")
    kh = keras_model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    eh = ember_model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    return kh.history["loss"], eh.history["loss"]


def assert_same_weights(keras_model, ember_model):
    keras_weights, ember_weights = keras_model.get_weights(), ember_model.get_weights()
    assert len(ember_weights) == len(keras_weights)
    for k, e in zip(keras_weights, ember_weights):
        assert_weights_close(e, k, **WEIGHTS_TOL)


def sgd_step_gradients(model, x, y):
    """The gradient of the mean squared error w.r.t. every trainable weight, read off one
    SGD step with learning rate 1."""
    before = [w.numpy().astype(np.float64) for w in model.trainable_weights]
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=1.0), loss="mse")
    model.train_on_batch(x, y)
    return [b - w.numpy() for b, w in zip(before, model.trainable_weights)]


def numeric_gradients(forward64, params, x, y):
    """Central differences of mean((forward64(x, params) - y)^2) in float64."""
    def loss(ps):
        return np.mean((forward64(x, ps) - y) ** 2)

    grads = []
    for p in params:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + 1e-6
            up = loss(params)
            p[i] = saved - 1e-6
            down = loss(params)
            p[i] = saved
            g[i] = (up - down) / 2e-6
        grads.append(g)
    return grads


# -- BatchNormalization --------------------------------------------------------------


# The Dense layers before a normalization have no bias: where it is constant over the
# normalized axes the normalization cancels it, so its gradient is rounding noise, which
# Adam's normalized steps would amplify.
def bn_dense(lib):
    return lib.Sequential([lib.Input((6,)), lib.layers.Dense(5, use_bias=False),
                           lib.layers.BatchNormalization(), lib.layers.Dense(1)])


def bn_variants(lib):
    """Every BatchNormalization option on 2-D data, one layer each, in one model."""
    bns = [lib.layers.BatchNormalization(),
           lib.layers.BatchNormalization(center=False, momentum=0.8, epsilon=0.05,
                                         gamma_regularizer="l2"),
           lib.layers.BatchNormalization(scale=False, beta_regularizer="l1"),
           lib.layers.BatchNormalization(center=False, scale=False)]
    # tanh between them: a batch-normalized layer cancels a shift of its input, which would
    # leave the beta before it without a gradient.
    stack = [lib.Input((6,))]
    for bn in bns:
        stack += [lib.layers.Dense(5, use_bias=False, activation="tanh"), bn]
    return lib.Sequential(stack + [lib.layers.Dense(1)])


def bn_channels_first(lib):
    """(batch, 4 channels, 3) with the channel axis 1; Flatten before the head."""
    return lib.Sequential([lib.Input((4, 6)), lib.layers.Dense(3, use_bias=False),
                           lib.layers.BatchNormalization(axis=1), lib.layers.Flatten(),
                           lib.layers.Dense(1)])


def data_for(model, rng):
    x = rng.normal(loc=0.7, scale=1.5, size=(SAMPLES,) + model.inputs[0].shape[1:])
    y = rng.normal(size=(SAMPLES, 1))
    return x.astype("float32"), y.astype("float32")


@pytest.mark.parametrize("build", [bn_variants, bn_channels_first])
def test_batch_normalization_predict_uses_moving_statistics_like_keras(keras, rng, build):
    keras_model, ember_model = twins(keras, rng, build)
    x, _ = data_for(keras_model, rng)

    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), **FORWARD_TOL)


@pytest.mark.parametrize("build", [bn_variants, bn_channels_first])
def test_batch_normalization_training_matches_keras(keras, rng, build):
    keras_model, ember_model = twins(keras, rng, build)
    x, y = data_for(keras_model, rng)

    keras_loss, ember_loss = train_both(keras, keras_model, ember_model, x, y)

    assert_same_weights(keras_model, ember_model)  # moving statistics included
    np.testing.assert_allclose(ember_loss, keras_loss, rtol=LOSS_RTOL)
    np.testing.assert_allclose(ember_model.evaluate(x, y, verbose=0),
                               keras_model.evaluate(x, y, verbose=0), rtol=LOSS_RTOL)


def test_batch_normalization_updates_moving_statistics_with_momentum(rng):
    bn = ember.layers.BatchNormalization(momentum=0.9)
    x = rng.normal(loc=2.0, scale=3.0, size=(32, 4)).astype("float32")

    out = bn(x, training=True)

    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=0), x64.var(axis=0)
    np.testing.assert_allclose(out, (x64 - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)


def test_batch_normalization_training_call_matches_keras(keras, rng):
    x = rng.normal(loc=-1.0, scale=2.0, size=(20, 3, 5)).astype("float32")
    keras_bn, ember_bn = keras.layers.BatchNormalization(axis=1), \
        ember.layers.BatchNormalization(axis=1)
    keras_bn.build(x.shape)
    ember_bn.build((None,) + x.shape[1:])
    weights = [rng.normal(size=(3,)).astype("float32") for _ in range(3)] + \
        [rng.uniform(0.5, 2.0, size=(3,)).astype("float32")]
    keras_bn.set_weights(weights)
    ember_bn.set_weights(weights)

    expected = np.asarray(keras_bn(x, training=True))

    np.testing.assert_allclose(ember_bn(x, training=True), expected, **FORWARD_TOL)
    for k, e in zip(keras_bn.get_weights(), ember_bn.get_weights()):
        assert_weights_close(e, k, **WEIGHTS_TOL)


def test_frozen_batch_normalization_trains_in_inference_mode_like_keras(keras, rng):
    keras_model, ember_model = twins(keras, rng, bn_dense)
    keras_model.layers[1].trainable = False
    ember_model.layers[1].trainable = False  # after ember built its graph
    moving_before = [w.numpy() for w in ember_model.layers[1].non_trainable_weights]
    x, y = data_for(keras_model, rng)

    keras_loss, ember_loss = train_both(keras, keras_model, ember_model, x, y)

    assert_same_weights(keras_model, ember_model)
    np.testing.assert_allclose(ember_loss, keras_loss, rtol=LOSS_RTOL)
    for before, w in zip(moving_before, ember_model.layers[1].non_trainable_weights):
        np.testing.assert_array_equal(w.numpy(), before)


def test_unfrozen_batch_normalization_uses_batch_statistics_again(rng):
    thawed, never_frozen = bn_dense(ember), bn_dense(ember)
    randomize_weights(thawed, rng)
    never_frozen.set_weights(thawed.get_weights())
    thawed.layers[1].trainable = False
    thawed.layers[1].trainable = True
    x, y = data_for(thawed, rng)

    for model in (thawed, never_frozen):
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)

    for a, b in zip(thawed.get_weights(), never_frozen.get_weights()):
        np.testing.assert_array_equal(a, b)


def bn_forward64(axis):
    def forward(x, params):
        kernel, gamma, beta = params
        h = x @ kernel
        axes = tuple(a for a in range(h.ndim) if a != axis % h.ndim)
        mean, var = h.mean(axis=axes, keepdims=True), h.var(axis=axes, keepdims=True)
        shape = [1] * h.ndim
        shape[axis] = -1
        return (h - mean) / np.sqrt(var + 1e-3) * gamma.reshape(shape) + beta.reshape(shape)
    return forward


@pytest.mark.parametrize("input_shape,axis", [((5,), -1), ((3, 5), 1), ((3, 5), -1)])
def test_batch_normalization_gradients_match_float64_reference(rng, input_shape, axis):
    model = ember.Sequential([ember.Input(input_shape), ember.layers.Dense(4, use_bias=False),
                              ember.layers.BatchNormalization(axis=axis)])
    randomize_weights(model, rng)
    x = rng.normal(loc=0.5, size=(9,) + input_shape).astype("float32")
    y = rng.normal(size=(9,) + model.outputs[0].shape[1:]).astype("float32")
    params = [w.numpy().astype(np.float64) for w in model.trainable_weights]

    expected = numeric_gradients(bn_forward64(axis), params, x.astype(np.float64), y)

    for got, want in zip(sgd_step_gradients(model, x, y), expected):
        np.testing.assert_allclose(got, want, **GRAD_TOL)


def test_batch_normalization_weights_are_counted_as_keras_counts_them(keras):
    keras_model, ember_model = bn_dense(keras), bn_dense(ember)

    assert ember_model.count_params() == keras_model.count_params()
    assert [w.path.split("/")[-1] for w in ember_model.layers[1].weights] == \
        ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(ember_model.trainable_weights) == len(keras_model.trainable_weights)
    assert len(ember_model.non_trainable_weights) == len(keras_model.non_trainable_weights)
    lines = []
    ember_model.summary(print_fn=lines.append)
    assert any("Non-trainable params: 10" in line for line in lines)


# -- LayerNormalization --------------------------------------------------------------


def ln_variants(lib):
    """LayerNormalization options on 2-D data, one layer each, in one model."""
    return lib.Sequential([
        lib.Input((6,)), lib.layers.Dense(4), lib.layers.LayerNormalization(),
        lib.layers.Dense(5), lib.layers.LayerNormalization(center=False, scale=False),
        lib.layers.Dense(5), lib.layers.LayerNormalization(epsilon=0.1, rms_scaling=True),
        lib.layers.Dense(1)])


def ln_axes(lib):
    """LayerNormalization over two axes and over a middle axis of 3-D data."""
    # No bias before the axis-1 normalization: constant along axis 1, it would cancel.
    return lib.Sequential([
        lib.Input((3, 6)), lib.layers.Dense(4), lib.layers.LayerNormalization(axis=[1, 2]),
        lib.layers.Dense(5, use_bias=False), lib.layers.LayerNormalization(axis=1),
        lib.layers.Flatten(), lib.layers.Dense(1)])


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize("build", [ln_variants, ln_axes])
def test_layer_normalization_predict_matches_keras(keras, rng, build):
    keras_model, ember_model = twins(keras, rng, build)
    x, _ = data_for(keras_model, rng)

    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), **FORWARD_TOL)


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize("build", [ln_variants, ln_axes])
def test_layer_normalization_training_matches_keras(keras, rng, build):
    keras_model, ember_model = twins(keras, rng, build)
    x, y = data_for(keras_model, rng)

    keras_loss, ember_loss = train_both(keras, keras_model, ember_model, x, y)

    assert_same_weights(keras_model, ember_model)
    np.testing.assert_allclose(ember_loss, keras_loss, rtol=LOSS_RTOL)


def ln_forward64(axes, rms_scaling):
    def forward(x, params):
        h = x @ params[0]
        mean, var = h.mean(axis=axes, keepdims=True), h.var(axis=axes, keepdims=True)
        shape = [h.shape[a] if a in axes else 1 for a in range(h.ndim)]
        gamma = params[1].reshape(shape)
        if rms_scaling:
            return h / np.sqrt(var + 1e-3) * gamma
        return (h - mean) / np.sqrt(var + 1e-3) * gamma + params[2].reshape(shape)
    return forward


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize("input_shape,axis,rms_scaling", [
    ((5,), -1, False), ((3, 5), [1, 2], False), ((3, 5), 1, False), ((5,), -1, True),
    ((3, 5), [1, 2], True)])
def test_layer_normalization_gradients_match_float64_reference(rng, input_shape, axis,
                                                               rms_scaling):
    model = ember.Sequential([ember.Input(input_shape), ember.layers.Dense(4, use_bias=False),
                              ember.layers.LayerNormalization(axis=axis,
                                                              rms_scaling=rms_scaling)])
    randomize_weights(model, rng)
    x = rng.normal(loc=0.5, size=(7,) + input_shape).astype("float32")
    y = rng.normal(size=(7,) + model.outputs[0].shape[1:]).astype("float32")
    params = [w.numpy().astype(np.float64) for w in model.trainable_weights]
    axes = tuple(a % (len(input_shape) + 1) for a in np.atleast_1d(axis))

    expected = numeric_gradients(ln_forward64(axes, rms_scaling), params, x.astype(np.float64), y)

    for got, want in zip(sgd_step_gradients(model, x, y), expected):
        np.testing.assert_allclose(got, want, **GRAD_TOL)


def test_layer_normalization_config_has_the_built_axis_list_as_keras(keras):
    keras_layer, ember_layer = keras.layers.LayerNormalization(), \
        ember.layers.LayerNormalization()
    keras_layer.build((None, 3, 4))
    ember_layer.build((None, 3, 4))

    assert ember_layer.get_config()["axis"] == keras_layer.get_config()["axis"] == [-1]


# -- Normalization ---------------------------------------------------------------------


NORM_VARIANTS = {
    "last_axis": ((4,), {}),
    "axis_none": ((4,), {"axis": None}),
    "invert": ((4,), {"invert": True}),
    "axes_1_2_of_3d": ((3, 4), {"axis": (1, 2)}),
    "last_of_3d": ((3, 4), {"axis": -1}),
}


@pytest.mark.parametrize("variant", list(NORM_VARIANTS))
def test_normalization_adapt_and_predict_match_keras(keras, rng, variant):
    shape, kwargs = NORM_VARIANTS[variant]
    data = rng.normal(loc=3.0, scale=2.0, size=(50,) + shape).astype("float32")
    x = rng.normal(loc=3.0, scale=2.0, size=(9,) + shape).astype("float32")
    keras_layer, ember_layer = keras.layers.Normalization(**kwargs), \
        ember.layers.Normalization(**kwargs)

    keras_layer.adapt(data)
    ember_layer.adapt(data)

    for k, e in zip(keras_layer.get_weights(), ember_layer.get_weights()):
        np.testing.assert_allclose(e, k, rtol=1e-6, atol=1e-6)
    model = ember.Sequential([ember.Input(shape), ember_layer])
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(keras_layer(x)),
                               **FORWARD_TOL)


def test_normalization_adapt_on_batches_gives_the_moments_of_all_the_data(rng):
    # (Keras's adapt on a list of batches needs TensorFlow; the merge it performs gives the
    # moments of the concatenated data.)
    batches = [rng.normal(loc=i, size=(n, 3)).astype("float32")
               for i, n in enumerate((10, 7, 20))]
    layer = ember.layers.Normalization()

    layer.adapt(batches)

    everything = np.concatenate(batches).astype(np.float64)
    np.testing.assert_allclose(layer.get_weights()[0], everything.mean(axis=0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[1], everything.var(axis=0), rtol=1e-5)


@pytest.mark.parametrize("mean,variance,shape,axis", [
    (2.0, 4.0, (3,), -1),
    ([1.0, -2.0, 0.5], [4.0, 0.25, 9.0], (3,), -1),
    ([1.0, -2.0, 0.5, 3.0], [4.0, 0.25, 9.0, 1.0], (2, 4), (1, 2)),
])
def test_normalization_with_given_statistics_matches_keras(keras, rng, mean, variance, shape,
                                                          axis):
    x = rng.normal(size=(6,) + shape).astype("float32")
    keras_layer = keras.layers.Normalization(axis=axis, mean=mean, variance=variance)
    ember_layer = ember.layers.Normalization(axis=axis, mean=mean, variance=variance)

    np.testing.assert_allclose(ember_layer(x), np.asarray(keras_layer(x)), **FORWARD_TOL)
    assert ember_layer.weights == [] and keras_layer.weights == []


def test_normalization_adapted_after_the_model_was_built_takes_effect(rng):
    layer = ember.layers.Normalization()
    model = ember.Sequential([ember.Input((3,)), layer, ember.layers.Dense(2)])
    data = rng.normal(loc=5.0, scale=3.0, size=(40, 3)).astype("float32")

    layer.adapt(data)

    normalized = (data - data.mean(axis=0)) / data.std(axis=0)
    head = model.layers[1]
    expected = normalized @ head.kernel.numpy() + head.bias.numpy()
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-4, atol=1e-5)


def test_training_through_normalization_matches_keras(keras, rng):
    def build(lib):
        return lib.Sequential([
            lib.Input((5,)), lib.layers.Dense(3),
            lib.layers.Normalization(mean=[0.5, -1.0, 2.0], variance=[2.0, 0.5, 3.0]),
            lib.layers.Dense(1)])

    keras_model, ember_model = twins(keras, rng, build)
    x, y = data_for(keras_model, rng)

    keras_loss, ember_loss = train_both(keras, keras_model, ember_model, x, y)

    assert_same_weights(keras_model, ember_model)
    np.testing.assert_allclose(ember_loss, keras_loss, rtol=LOSS_RTOL)


def test_normalization_weights_are_named_as_keras_names_them(keras, rng):
    data = rng.normal(size=(10, 3)).astype("float32")
    layer = ember.layers.Normalization()
    layer.adapt(data)

    assert [w.path.split("/")[-1] for w in layer.weights] == ["mean", "variance", "count"]
    assert layer.trainable_weights == []


# -- configs and bad input ----------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.BatchNormalization(axis=1, momentum=0.9, center=False,
                                              gamma_regularizer="l2", name="n"),
    lambda lib: lib.layers.LayerNormalization(axis=[1, 2], epsilon=0.01, name="n"),
    lambda lib: lib.layers.Normalization(axis=None, mean=1.0, variance=2.0, name="n"),
    lambda lib: lib.layers.Normalization(invert=True, name="n"),
    lambda lib: lib.layers.Flatten(name="n"),
    lambda lib: lib.layers.Reshape((2, -1), name="n"),
], ids=["batch_norm", "layer_norm", "normalization", "normalization_invert", "flatten",
        "reshape"])
def test_config_matches_keras_and_round_trips(keras, make):
    keras_config, ember_config = make(keras).get_config(), make(ember).get_config()
    keras_config.pop("dtype")
    ember_config.pop("dtype")

    assert ember_config == keras_config
    rebuilt = type(make(ember)).from_config(ember_config).get_config()
    rebuilt.pop("dtype")
    assert rebuilt == ember_config


@pytest.mark.parametrize("axis", [3, -4])
def test_batch_normalization_axis_out_of_range_raises(axis):
    with pytest.raises(ValueError, match="out of bounds for input shape"):
        ember.Sequential([ember.Input((3, 4)), ember.layers.BatchNormalization(axis=axis)])


def test_batch_normalization_on_the_batch_axis_raises():
    with pytest.raises(ValueError, match="batch axis"):
        ember.Sequential([ember.Input((3, 4)), ember.layers.BatchNormalization(axis=0)])


def test_layer_normalization_axis_out_of_range_raises():
    with pytest.raises(ValueError, match="out of bounds"):
        ember.Sequential([ember.Input((3,)), ember.layers.LayerNormalization(axis=2)])


def test_normalization_needs_both_mean_and_variance():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        ember.layers.Normalization(mean=1.0)


def test_batch_normalization_renorm_is_reported_as_unsupported():
    with pytest.raises(NotImplementedError, match="renorm"):
        ember.layers.BatchNormalization(renorm=True)
