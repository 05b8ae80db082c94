"""L1, L2 and L1L2 regularizers: their penalties on arrays, their names and configs, and
training with kernel, bias and activity regularizers against Keras 3 (jax).

Keras adds `model.losses` (weight penalties of trainable weights; activity penalties
divided by the batch size) to the loss it trains on and logs, in fit and evaluate;
History's `loss` must agree to ~1e-6 relative, weights to float32 rounding.
"""

import ember
import numpy as np
import pytest

WEIGHTS_TOL = {"rtol": 1e-5, "atol": 1e-6}
ADAM_WEIGHTS_TOL = {"rtol": 1e-5, "atol": 1e-4}
LOSS_RTOL = 5e-6


# -- the penalty of an array -------------------------------------------------------------


@pytest.mark.parametrize("regularizer,l1,l2", [
    (ember.regularizers.L1(0.3), 0.3, 0.0),
    (ember.regularizers.L2(0.2), 0.0, 0.2),
    (ember.regularizers.L1L2(l1=0.05, l2=0.4), 0.05, 0.4),
])
def test_penalty_of_an_array_matches_float64(rng, regularizer, l1, l2):
    x = rng.normal(size=(7, 5))

    expected = l1 * np.abs(x).sum() + l2 * (x ** 2).sum()

    np.testing.assert_allclose(regularizer(x.astype("float32")), expected, rtol=1e-6)


@pytest.mark.parametrize("name,cls,config", [
    ("l1", "L1", {"l1": 0.009999999776482582}),
    ("l2", "L2", {"l2": 0.01}),
    ("L1L2", "L1L2", {"l1": 0.0, "l2": 0.0}),
    ("l1l2", "L1L2", {"l1": 0.0, "l2": 0.0}),
])
def test_get_resolves_names_as_keras_does(keras, name, cls, config):
    ours, theirs = ember.regularizers.get(name), keras.regularizers.get(name)

    assert type(ours).__name__ == type(theirs).__name__ == cls
    assert ours.get_config() == theirs.get_config() == config


def test_l1_l2_name_gives_the_documented_factors():
    # Keras documents 'l1_l2' as L1L2(0.01, 0.01), though its own lookup lacks the name.
    assert ember.regularizers.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}


@pytest.mark.parametrize("make", [
    lambda lib: lib.regularizers.L1(0.1),
    lambda lib: lib.regularizers.L2(0.25),
    lambda lib: lib.regularizers.L1L2(l1=0.1, l2=0.2),
], ids=["l1", "l2", "l1l2"])
def test_serialize_matches_keras_and_round_trips(keras, make):
    ours = ember.regularizers.serialize(make(ember))

    assert ours == keras.regularizers.serialize(make(keras))
    assert ember.regularizers.deserialize(ours).get_config() == ours["config"]
    assert keras.regularizers.deserialize(ours).get_config() == ours["config"]


@pytest.mark.parametrize("make", [
    lambda: ember.regularizers.L1(-0.1),
    lambda: ember.regularizers.L2(float("nan")),
    lambda: ember.regularizers.L1L2(l1="0.1"),
], ids=["negative", "nan", "string"])
def test_invalid_factor_raises(make):
    with pytest.raises(ValueError, match="expected a non-negative float"):
        make()


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier"):
        ember.regularizers.get("l3")


# -- training ------------------------------------------------------------------------------


def twins(keras, rng, build, randomize=True):
    keras_model, ember_model = build(keras), build(ember)
    if randomize:
        keras_model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                                 for w in keras_model.get_weights()])
    ember_model.set_weights(keras_model.get_weights())
    return keras_model, ember_model


def fit_both(keras, keras_model, ember_model, x, y, optimizer="Adam", epochs=3):
    keras_model.compile(optimizer=getattr(keras.optimizers, optimizer)(learning_rate=0.01),
                        loss="mse")
    ember_model.compile(optimizer=getattr(ember.optimizers, optimizer)(learning_rate=0.01),
                        loss="mse")
    kh = keras_model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    eh = ember_model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    # Adam divides each gradient by its running size: where a gradient is a
    # near-cancellation (or an L1 term's sign flips near w = 0), the libraries'
    # different float32 rounding moves a weight by up to ~1e-5 over these steps
    # (seen: 2.4e-6, EMBER_TEST_SEED=1151895595); a wrong gradient moves it by ~lr.
    tol = ADAM_WEIGHTS_TOL if optimizer == "Adam" else WEIGHTS_TOL
    for k, e in zip(keras_model.get_weights(), ember_model.get_weights()):
        np.testing.assert_allclose(e, k, **tol)
    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=LOSS_RTOL)


def data(rng, features=6, samples=70):
    return (rng.normal(size=(samples, features)).astype("float32"),
            rng.normal(size=(samples, 1)).astype("float32"))


def test_training_with_kernel_bias_and_activity_regularizers_matches_keras(keras, rng):
    def build(lib):
        r = lib.regularizers
        return lib.Sequential([
            lib.Input((6,)),
            lib.layers.Dense(5, activation="relu", kernel_regularizer=r.L1(0.01),
                             bias_regularizer=r.L2(0.02),
                             activity_regularizer=r.L1L2(l1=0.01, l2=0.01)),
            lib.layers.Dense(4, activation="tanh", kernel_regularizer="l2",
                             activity_regularizer="l1"),
            lib.layers.Dense(1, kernel_regularizer=r.L1L2(l1=0.02, l2=0.03),
                             bias_regularizer="l1")])

    keras_model, ember_model = twins(keras, rng, build)
    x, y = data(rng)

    fit_both(keras, keras_model, ember_model, x, y)

    np.testing.assert_allclose(ember_model.evaluate(x, y, verbose=0),
                               keras_model.evaluate(x, y, verbose=0), rtol=LOSS_RTOL)


def test_l1_on_zero_biases_matches_keras(keras, rng):
    """jax differentiates |b| at b = 0 as +1, so zero-initialised biases move at once."""
    def build(lib):
        return lib.Sequential([lib.Input((6,)),
                               lib.layers.Dense(4, bias_regularizer=lib.regularizers.L1(0.05)),
                               lib.layers.Dense(1, bias_regularizer="l1")])

    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model, ember_model = twins(keras, rng, build, randomize=False)
    x, y = data(rng)

    fit_both(keras, keras_model, ember_model, x, y, optimizer="SGD", epochs=1)


def test_frozen_layer_regularizer_is_left_out_as_in_keras(keras, rng):
    def build(lib):
        return lib.Sequential([
            lib.Input((6,)), lib.layers.Dense(4, kernel_regularizer=lib.regularizers.L2(0.5)),
            lib.layers.Dense(1, kernel_regularizer=lib.regularizers.L2(0.1))])

    keras_model, ember_model = twins(keras, rng, build)
    keras_model.layers[0].trainable = False
    ember_model.layers[0].trainable = False
    x, y = data(rng)

    fit_both(keras, keras_model, ember_model, x, y, epochs=1)


def test_evaluate_loss_is_the_compiled_loss_plus_the_weight_penalties(rng):
    model = ember.Sequential([ember.Input((3,)),
                              ember.layers.Dense(2, kernel_regularizer=ember.regularizers.L1L2(
                                  l1=0.1, l2=0.3), bias_regularizer=ember.regularizers.L1(0.2))])
    model.set_weights([rng.normal(size=(3, 2)), rng.normal(size=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.normal(size=(9, 3)).astype("float32"), rng.normal(size=(9, 2)).astype("float32")

    loss = model.evaluate(x, y, verbose=0)

    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    mse = np.mean((x.astype(np.float64) @ kernel + bias - y) ** 2)
    penalty = 0.1 * np.abs(kernel).sum() + 0.3 * (kernel ** 2).sum() + 0.2 * np.abs(bias).sum()
    np.testing.assert_allclose(loss, mse + penalty, rtol=1e-6)


# -- Dense's arguments -----------------------------------------------------------------------


def test_dense_config_lists_its_regularizers_as_keras_does(keras):
    def make(lib):
        return lib.layers.Dense(3, kernel_regularizer=lib.regularizers.L2(0.1),
                                bias_regularizer="l1", activity_regularizer="l2", name="d")

    ours, theirs = make(ember).get_config(), make(keras).get_config()

    for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
        assert ours[key] == theirs[key]
    rebuilt = ember.layers.Dense.from_config(ours)
    assert rebuilt.get_config()["kernel_regularizer"] == ours["kernel_regularizer"]
    assert isinstance(rebuilt.activity_regularizer, ember.regularizers.L2)


def test_dense_without_activity_regularizer_leaves_it_out_of_its_config(keras):
    assert "activity_regularizer" not in ember.layers.Dense(3).get_config()
    assert "activity_regularizer" not in keras.layers.Dense(3).get_config()


def test_regularized_weight_exposes_its_regularizer():
    layer = ember.layers.Dense(2, kernel_regularizer="l2")
    layer.build((None, 3))

    assert isinstance(layer.kernel.regularizer, ember.regularizers.L2)
    assert layer.bias.regularizer is None


def test_custom_callable_regularizer_not_written_with_ops_is_reported_unsupported():
    # NumPy's .sum() method cannot be recorded into the engine's graph (ember.ops can).
    with pytest.raises(NotImplementedError, match="could not be recorded"):
        ember.Sequential([ember.Input((3,)),
                          ember.layers.Dense(2, kernel_regularizer=lambda w: 0.1 * (w ** 2).sum())])
