"""ember against Keras 3 (jax backend): the same model with the same weights must
compute the same outputs, the same losses and metrics, and train to the same weights.

Every test builds one architecture twice - `build(keras)` and `build(ember)` - with the
same code, copies Keras's weights into ember with `set_weights`, and runs both on the
same random data.

Tolerances. Forward passes agree to float32 rounding. Training accumulates rounding
differences (ember's kernels sum in a different order from XLA's), so after 3 epochs of
5 batches the weights differ by at most ~3e-7 (measured over many seeds for every
optimizer and loss below); the assertions allow a few times that.
"""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax"]

FORWARD_TOL = {"rtol": 1e-5, "atol": 1e-6}
WEIGHTS_TOL = {"rtol": 1e-5, "atol": 1e-6}  # measured: |diff| <= 3e-7
LOSS_RTOL = 5e-6  # measured: relative diff of History["loss"] <= 9e-7
METRIC_TOL = {"rel": 5e-6, "abs": 1e-6}  # accuracy: same hits; mae: as the loss

SAMPLES = 70  # 16 + 16 + 16 + 16 + 6: the last batch is partial
FEATURES = 6


def copy_weights(keras_model, ember_model):
    ember_model.set_weights(keras_model.get_weights())


def randomize_weights(keras_model, rng, scale=0.5):
    """Replaces every weight, biases included, by random values (no zeros)."""
    keras_model.set_weights(
        [rng.normal(scale=scale, size=w.shape).astype("float32") for w in keras_model.get_weights()]
    )


def assert_same_weights(keras_model, ember_model, **tol):
    keras_weights, ember_weights = keras_model.get_weights(), ember_model.get_weights()
    assert len(ember_weights) == len(keras_weights)
    for k, e in zip(keras_weights, ember_weights):
        assert_weights_close(e, k, **tol)


# -- forward parity ----------------------------------------------------------------


def dense_stack(lib, activation, use_bias):
    return lib.Sequential([
        lib.Input((FEATURES,)),
        lib.layers.Dense(7, activation=activation, use_bias=use_bias),
        lib.layers.Dense(4, activation=activation, use_bias=use_bias),
    ])


def dense_then_activation_layer(lib, activation, use_bias):
    return lib.Sequential([
        lib.Input((FEATURES,)),
        lib.layers.Dense(5, use_bias=use_bias),
        lib.layers.Activation(activation),
        lib.layers.Dense(3, use_bias=use_bias),
        lib.layers.Activation(activation),
    ])


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("build", [dense_stack, dense_then_activation_layer])
def test_predict_matches_keras(keras, rng, build, activation, use_bias):
    keras_model = build(keras, activation, use_bias)
    ember_model = build(ember, activation, use_bias)
    randomize_weights(keras_model, rng)
    copy_weights(keras_model, ember_model)
    x = rng.normal(size=(33, FEATURES)).astype("float32")

    expected = keras_model.predict(x, verbose=0)
    np.testing.assert_allclose(ember_model.predict(x, verbose=0), expected, **FORWARD_TOL)


def test_functional_model_matches_keras(keras, rng):
    def build(lib):
        inputs = lib.Input((FEATURES,))
        hidden = lib.layers.Dense(8, activation="relu")(inputs)
        outputs = lib.layers.Dense(2, activation="sigmoid")(hidden)
        return lib.Model(inputs, outputs)

    keras_model, ember_model = build(keras), build(ember)
    randomize_weights(keras_model, rng)
    copy_weights(keras_model, ember_model)
    x = rng.normal(size=(20, FEATURES)).astype("float32")

    expected = keras_model.predict(x, verbose=0)
    np.testing.assert_allclose(ember_model.predict(x, verbose=0), expected, **FORWARD_TOL)


# -- training parity ---------------------------------------------------------------

# name: (optimizer class, its arguments)
OPTIMIZERS = {
    "sgd": ("SGD", {}),
    "sgd_momentum": ("SGD", {"momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {}),
    "adam_amsgrad": ("Adam", {"amsgrad": True}),
    "rmsprop": ("RMSprop", {}),
    "rmsprop_momentum_centered": ("RMSprop", {"momentum": 0.9, "centered": True}),
}


def task(loss, rng):
    """(x, y, output units, output activation, metric) for a loss."""
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    labels = rng.integers(0, 4, size=SAMPLES)
    if loss in ("mean_squared_error", "mean_absolute_error"):
        return x, rng.normal(size=(SAMPLES, 1)).astype("float32"), 1, "linear", "mae"
    if loss == "binary_crossentropy":
        y = (rng.random((SAMPLES, 1)) > 0.5).astype("float32")
        return x, y, 1, "sigmoid", "accuracy"
    if loss == "categorical_crossentropy":
        return x, np.eye(4, dtype="float32")[labels], 4, "softmax", "accuracy"
    if loss == "sparse_categorical_crossentropy":
        return x, labels, 4, "softmax", "accuracy"
    raise AssertionError(loss)


def mlp(lib, units, activation):
    return lib.Sequential([
        lib.Input((FEATURES,)),
        lib.layers.Dense(8, activation="relu"),
        lib.layers.Dense(8, activation="tanh"),
        lib.layers.Dense(units, activation=activation),
    ])


def twin_models(keras, rng, units, activation):
    """The same MLP in Keras and ember, with Keras's initial kernels, random biases."""
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model = mlp(keras, units, activation)
    keras_model.set_weights([
        w if w.ndim == 2 else rng.normal(scale=0.1, size=w.shape).astype("float32")
        for w in keras_model.get_weights()
    ])
    ember_model = mlp(ember, units, activation)
    copy_weights(keras_model, ember_model)
    return keras_model, ember_model


def fit_both(keras, rng, optimizer, loss):
    """Trains the twins for 3 unshuffled epochs; returns both models and Histories."""
    x, y, units, activation, metric = task(loss, rng)
    keras_model, ember_model = twin_models(keras, rng, units, activation)
    class_name, kwargs = OPTIMIZERS[optimizer]
    keras_model.compile(getattr(keras.optimizers, class_name)(**kwargs), loss, metrics=[metric])
    ember_model.compile(getattr(ember.optimizers, class_name)(**kwargs), loss, metrics=[metric])
    fit_args = {"batch_size": 16, "epochs": 3, "shuffle": False, "verbose": 0}
    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history
    return keras_model, ember_model, keras_history, ember_history, metric


def assert_same_history(keras_history, ember_history, metric):
    assert sorted(ember_history) == sorted(keras_history) == sorted(["loss", metric])
    np.testing.assert_allclose(ember_history["loss"], keras_history["loss"], rtol=LOSS_RTOL)
    assert ember_history[metric] == pytest.approx(keras_history[metric], **METRIC_TOL)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_fit_with_optimizer_matches_keras(keras, rng, optimizer):
    keras_model, ember_model, keras_history, ember_history, metric = fit_both(
        keras, rng, optimizer, "mean_squared_error")

    assert_same_weights(keras_model, ember_model, **WEIGHTS_TOL)
    assert_same_history(keras_history, ember_history, metric)


LOSSES = ["mean_squared_error", "mean_absolute_error", "binary_crossentropy",
          "categorical_crossentropy", "sparse_categorical_crossentropy"]


@pytest.mark.parametrize("loss", LOSSES)
def test_fit_with_loss_matches_keras(keras, rng, loss):
    keras_model, ember_model, keras_history, ember_history, metric = fit_both(
        keras, rng, "adam", loss)

    assert_same_weights(keras_model, ember_model, **WEIGHTS_TOL)
    assert_same_history(keras_history, ember_history, metric)


def test_train_on_batch_sequence_matches_keras(keras, rng):
    x, y, units, activation, _ = task("sparse_categorical_crossentropy", rng)
    keras_model, ember_model = twin_models(keras, rng, units, activation)
    keras_model.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy",
                        metrics=["accuracy"])
    ember_model.compile(ember.optimizers.Adam(), "sparse_categorical_crossentropy",
                        metrics=["accuracy"])

    for batch in (slice(0, 20), slice(20, 45), slice(45, 70)):
        keras_loss, keras_accuracy = keras_model.train_on_batch(x[batch], y[batch])
        ember_loss, ember_accuracy = ember_model.train_on_batch(x[batch], y[batch])
        assert ember_loss == pytest.approx(keras_loss, rel=LOSS_RTOL)
        assert ember_accuracy == pytest.approx(keras_accuracy, **METRIC_TOL)
    assert_same_weights(keras_model, ember_model, **WEIGHTS_TOL)
    assert ember_model.optimizer.iterations == int(keras_model.optimizer.iterations) == 3


@pytest.mark.parametrize("loss", LOSSES)
def test_evaluate_matches_keras(keras, rng, loss):
    x, y, units, activation, metric = task(loss, rng)
    keras_model, ember_model = twin_models(keras, rng, units, activation)
    keras_model.compile("adam", loss, metrics=[metric])
    ember_model.compile("adam", loss, metrics=[metric])

    expected = keras_model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    got = ember_model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)

    assert sorted(got) == sorted(expected)
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-6)
    assert got[metric] == pytest.approx(expected[metric], **METRIC_TOL)


def test_test_on_batch_matches_keras(keras, rng):
    x, y, units, activation, _ = task("binary_crossentropy", rng)
    keras_model, ember_model = twin_models(keras, rng, units, activation)
    keras_model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    ember_model.compile("adam", "binary_crossentropy", metrics=["accuracy"])

    expected = keras_model.test_on_batch(x, y)
    got = ember_model.test_on_batch(x, y)

    assert got == pytest.approx(expected, rel=1e-6)
    assert_same_weights(keras_model, ember_model, rtol=0, atol=0)  # nothing was trained


def test_fit_through_activation_layers_matches_keras(keras, rng):
    def build(lib):
        return lib.Sequential([
            lib.Input((FEATURES,)),
            lib.layers.Dense(8),
            lib.layers.Activation("tanh"),
            lib.layers.Dense(4),
            lib.layers.Activation("softmax"),
        ])

    x, y, _, _, _ = task("categorical_crossentropy", rng)
    keras_model, ember_model = build(keras), build(ember)
    randomize_weights(keras_model, rng)
    copy_weights(keras_model, ember_model)
    keras_model.compile(keras.optimizers.RMSprop(), "categorical_crossentropy")
    ember_model.compile(ember.optimizers.RMSprop(), "categorical_crossentropy")
    fit_args = {"batch_size": 16, "epochs": 3, "shuffle": False, "verbose": 0}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    assert_same_weights(keras_model, ember_model, **WEIGHTS_TOL)
    np.testing.assert_allclose(ember_history["loss"], keras_history["loss"], rtol=LOSS_RTOL)


def test_binary_crossentropy_gradient_at_the_clip_bound_matches_keras(keras):
    """float32 sigmoid(z) is exactly 1 - 2**-23 == float32(1 - 1e-7), the upper clip bound,
    for every z in about [15.7, 16.6]. There Keras's clip passes half the gradient (jax
    splits ties of min/max), so a confidently wrong prediction still gets pushed back."""
    logit = 16.0
    x = np.ones((1, 1), dtype="float32")
    y = np.zeros((1, 1), dtype="float32")  # label 0, predicted 0.9999999
    weights_after = []
    for lib in (keras, ember):
        model = lib.Sequential([lib.Input((1,)), lib.layers.Dense(1, activation="sigmoid")])
        model.set_weights([np.full((1, 1), logit, "float32"), np.zeros(1, "float32")])
        model.compile(lib.optimizers.SGD(0.1), "binary_crossentropy")
        assert model.predict(x, verbose=0)[0, 0] == np.float32(1) - np.float32(1e-7)
        model.train_on_batch(x, y)
        weights_after.append(model.get_weights())

    keras_weights, ember_weights = weights_after
    assert keras_weights[0][0, 0] == pytest.approx(logit - 0.05)  # 0.1 * 0.5 * 1 * x
    for k, e in zip(keras_weights, ember_weights):
        assert_weights_close(e, k, **WEIGHTS_TOL)


def test_mean_absolute_error_gradient_at_a_zero_residual_matches_keras(keras):
    """Where a prediction equals its target exactly, Keras's autodiff of |t - p| gives
    d/dp = -1 (jax's abs' is +1 at 0), not 0: the weight still moves."""
    x = np.ones((1, 1), dtype="float32")
    y = np.full((1, 1), 3.0, dtype="float32")  # the model predicts exactly 3.0
    weights_after = []
    for lib in (keras, ember):
        model = lib.Sequential([lib.Input((1,)), lib.layers.Dense(1)])
        model.set_weights([np.full((1, 1), 2.0, "float32"), np.ones(1, "float32")])
        model.compile(lib.optimizers.SGD(0.1), "mean_absolute_error")
        model.train_on_batch(x, y)
        weights_after.append(model.get_weights())

    keras_weights, ember_weights = weights_after
    assert keras_weights[0][0, 0] == pytest.approx(2.1)
    for k, e in zip(keras_weights, ember_weights):
        assert_weights_close(e, k, **WEIGHTS_TOL)


# -- "accuracy" resolves as Keras resolves it ------------------------------------

ACCURACY_CASES = {
    # name: (loss, output units, output activation, targets from integer labels)
    "binary_column": ("binary_crossentropy", 1, "sigmoid", lambda k: (k % 2)[:, None]),
    "binary_flat": ("binary_crossentropy", 1, "sigmoid", lambda k: k % 2),
    "sparse_flat": ("sparse_categorical_crossentropy", 4, "softmax", lambda k: k),
    "sparse_column": ("sparse_categorical_crossentropy", 4, "softmax", lambda k: k[:, None]),
    "one_hot": ("categorical_crossentropy", 4, "softmax", lambda k: np.eye(4)[k]),
}


@pytest.mark.parametrize("case", list(ACCURACY_CASES))
def test_accuracy_metric_matches_keras(keras, rng, case):
    loss, units, activation, targets = ACCURACY_CASES[case]
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = targets(rng.integers(0, 4, size=SAMPLES)).astype("float32")
    keras_model, ember_model = twin_models(keras, rng, units, activation)
    keras_model.compile("adam", loss, metrics=["accuracy"])
    ember_model.compile("adam", loss, metrics=["accuracy"])
    fit_args = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    assert sorted(ember_history) == ["accuracy", "loss"]
    assert ember_history["accuracy"] == pytest.approx(keras_history["accuracy"], **METRIC_TOL)


# -- loss functions ----------------------------------------------------------------


def loss_inputs(name, rng, rows=12, cols=5):
    """(y_true, y_pred) as each loss expects them; predictions inside (0, 1) for the
    crossentropies, unnormalised for the categorical ones (Keras normalises them)."""
    if name in ("mean_squared_error", "mean_absolute_error"):
        return rng.normal(size=(rows, cols)), rng.normal(size=(rows, cols))
    if name == "binary_crossentropy":
        return (rng.random((rows, cols)) > 0.5).astype(float), rng.uniform(0.01, 0.99, (rows, cols))
    labels = rng.integers(0, cols, size=rows)
    y_pred = rng.uniform(0.05, 1.0, (rows, cols))
    if name == "sparse_categorical_crossentropy":
        return labels, y_pred
    return np.eye(cols)[labels], y_pred


def as_f32(*arrays):
    return [np.asarray(a, dtype="float32") for a in arrays]


@pytest.mark.parametrize("name", LOSSES)
def test_loss_function_matches_keras(keras, rng, name):
    y_true, y_pred = as_f32(*loss_inputs(name, rng))

    expected = np.asarray(getattr(keras.losses, name)(y_true, y_pred))
    got = getattr(ember.losses, name)(y_true, y_pred)

    assert got.shape == expected.shape == (12,)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


LOSS_CLASSES = {
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "BinaryCrossentropy": "binary_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
}


@pytest.mark.parametrize("class_name", list(LOSS_CLASSES))
def test_loss_class_matches_keras(keras, rng, class_name):
    name = LOSS_CLASSES[class_name]
    y_true, y_pred = as_f32(*loss_inputs(name, rng))

    expected = float(getattr(keras.losses, class_name)()(y_true, y_pred))
    got = float(getattr(ember.losses, class_name)()(y_true, y_pred))

    assert got == pytest.approx(expected, rel=1e-6)


def reference_loss(name, y_true, y_pred):
    """The loss over a batch ("sum_over_batch_size"), in float64, from Keras's formulas.
    Keras clips to [eps, 1 - eps] in float32, where 1 - 1e-7 rounds to 1 - 2**-23."""
    t, p = np.float64(y_true), np.float64(y_pred)
    lo, hi = 1e-7, float(np.float32(1) - np.float32(1e-7))
    if name == "mean_squared_error":
        per_sample = np.mean((t - p) ** 2, axis=-1)
    elif name == "mean_absolute_error":
        per_sample = np.mean(np.abs(t - p), axis=-1)
    elif name == "binary_crossentropy":
        p = np.clip(p, lo, hi)
        per_sample = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p), axis=-1)
    else:
        if name == "sparse_categorical_crossentropy":
            t = np.eye(p.shape[-1])[y_true.astype(int)]
        q = np.clip(p / p.sum(axis=-1, keepdims=True), lo, hi)
        per_sample = -np.sum(t * np.log(q), axis=-1)
    return per_sample.mean()


@pytest.mark.parametrize("name", LOSSES)
def test_loss_kernel_matches_float64_reference(rng, name):
    y_true, y_pred = as_f32(*loss_inputs(name, rng, rows=50, cols=7))

    got = ember.losses.loss_value(name, y_true, y_pred)

    assert got == pytest.approx(reference_loss(name, y_true, y_pred), rel=1e-6)


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy"])
def test_loss_kernel_clips_certain_predictions_like_keras(keras, rng, name):
    """Predictions of exactly 0 and 1 are clipped, not turned into inf."""
    y_true, y_pred = as_f32(*loss_inputs(name, rng, rows=20, cols=3))
    y_pred[::2] = np.eye(3, dtype="float32")[rng.integers(0, 3, size=10)]  # certain rows

    got = ember.losses.loss_value(name, y_true, y_pred)
    keras_value = float(np.mean(getattr(keras.losses, name)(y_true, y_pred)))

    assert np.isfinite(got)
    assert got == pytest.approx(reference_loss(name, y_true, y_pred), rel=1e-6)
    assert got == pytest.approx(keras_value, rel=1e-5)
