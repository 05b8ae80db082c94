"""Dropout, GaussianNoise and ActivityRegularization.

Dropout's masks and GaussianNoise's noise come from ember's own generator, so they are
checked statistically (with bounds of at least 5 standard errors) rather than against
Keras; what is deterministic (inference, rates 0 and 1, the penalty of
ActivityRegularization) is checked exactly or against Keras 3.
"""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

WEIGHTS_TOL = {"rtol": 1e-5, "atol": 1e-6}
LOSS_RTOL = 5e-6


def positive(rng, shape):
    """Inputs bounded away from zero, so a zero in the output can only be a dropped unit."""
    return rng.uniform(0.5, 1.5, size=shape).astype("float32")


# -- Dropout -----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keeps_about_one_minus_rate_of_the_units(rng, rate):
    x = positive(rng, (100, 400))

    out = ember.layers.Dropout(rate)(x, training=True)

    kept = np.mean(out != 0)
    assert abs(kept - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / x.size)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_scales_kept_units_by_one_over_keep_probability(rng, rate):
    x = positive(rng, (50, 40))

    out = ember.layers.Dropout(rate)(x, training=True)

    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / np.float32(1 - rate), rtol=1e-6)


def test_dropout_is_the_identity_in_inference(rng):
    x = rng.normal(size=(30, 7)).astype("float32")
    model = ember.Sequential([ember.Input((7,)), ember.layers.Dropout(0.5)])

    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    np.testing.assert_array_equal(ember.layers.Dropout(0.5)(x), x)


def test_dropout_with_the_same_seed_drops_the_same_units(rng):
    x = positive(rng, (20, 30))

    first = ember.layers.Dropout(0.5, seed=42)(x, training=True)
    second = ember.layers.Dropout(0.5, seed=42)(x, training=True)
    other = ember.layers.Dropout(0.5, seed=43)(x, training=True)

    np.testing.assert_array_equal(first, second)
    assert np.mean((first == 0) != (other == 0)) > 0.3


def test_dropout_draws_a_new_mask_at_every_training_call(rng):
    layer = ember.layers.Dropout(0.5, seed=1)
    x = positive(rng, (20, 30))

    assert np.mean((layer(x, training=True) == 0) != (layer(x, training=True) == 0)) > 0.3


def test_dropout_noise_shape_shares_the_mask_along_axes_of_size_one(rng):
    x = positive(rng, (40, 6, 50))

    out = ember.layers.Dropout(0.4, noise_shape=(None, 1, 50))(x, training=True)

    dropped = out == 0
    np.testing.assert_array_equal(dropped, np.broadcast_to(dropped[:, :1, :], dropped.shape))
    assert abs(dropped[:, 0, :].mean() - 0.4) < 5 * np.sqrt(0.24 / (40 * 50))


def test_dropout_noise_shape_of_one_on_the_batch_axis_shares_the_mask_across_samples(rng):
    x = positive(rng, (10, 300))

    out = ember.layers.Dropout(0.5, noise_shape=(1, 300))(x, training=True)

    np.testing.assert_array_equal(out == 0, np.broadcast_to(out[:1] == 0, out.shape))


def test_dropout_rate_one_zeroes_everything_and_rate_zero_changes_nothing(rng):
    x = rng.normal(size=(8, 5)).astype("float32")

    np.testing.assert_array_equal(ember.layers.Dropout(1.0)(x, training=True), 0.0)
    np.testing.assert_array_equal(ember.layers.Dropout(0.0)(x, training=True), x)


def test_dropout_gradient_uses_the_mask_of_the_forward_pass(rng):
    """One sample through Dropout into Dense(1): an SGD step with learning rate 1 changes
    exactly the kernel entries of kept units, by (x / keep) * 2 (pred - y), where pred is
    what the kept units (as seen from the backward pass) predict."""
    model = ember.Sequential([ember.Input((200,)), ember.layers.Dropout(0.5),
                              ember.layers.Dense(1, use_bias=False)])
    kernel = rng.normal(scale=0.1, size=(200, 1)).astype("float32")
    model.set_weights([kernel])
    x, y = positive(rng, (1, 200)), rng.normal(size=(1, 1)).astype("float32")
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=1.0), loss="mse")

    model.train_on_batch(x, y)

    step = (kernel - model.get_weights()[0])[:, 0].astype(np.float64)
    kept = step != 0
    assert 0.3 < kept.mean() < 0.7
    scaled = x[0].astype(np.float64) / 0.5
    pred = np.sum(scaled[kept] * kernel[kept, 0])
    np.testing.assert_allclose(step[kept], scaled[kept] * 2 * (pred - y[0, 0]), rtol=1e-4)


def test_training_with_dropout_repeats_after_set_random_seed(rng):
    x, y = rng.normal(size=(64, 5)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")

    def train():
        ember.utils.set_random_seed(7)
        model = ember.Sequential([ember.Input((5,)), ember.layers.Dense(16),
                                  ember.layers.Dropout(0.5), ember.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        return model.get_weights()

    for a, b in zip(train(), train()):
        np.testing.assert_array_equal(a, b)


def test_dropout_is_active_in_fit(rng):
    """Rate 1 cuts the gradient to everything before the dropout."""
    model = ember.Sequential([ember.Input((5,)), ember.layers.Dense(4),
                              ember.layers.Dropout(1.0), ember.layers.Dense(1)])
    before = model.layers[0].get_weights()
    model.compile(optimizer="adam", loss="mse")

    model.fit(rng.normal(size=(32, 5)), rng.normal(size=(32, 1)), epochs=1, verbose=0)

    for a, b in zip(before, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)


# -- GaussianNoise ---------------------------------------------------------------------------


def test_gaussian_noise_has_zero_mean_and_the_given_stddev(rng):
    x = rng.normal(size=(200, 500)).astype("float32")

    noise = (ember.layers.GaussianNoise(0.3)(x, training=True) - x).astype(np.float64)

    n = noise.size
    assert abs(noise.mean()) < 5 * 0.3 / np.sqrt(n)
    assert abs(noise.std() / 0.3 - 1) < 5 / np.sqrt(2 * n)
    # Normal, not merely centred and scaled: the share within one standard deviation.
    assert abs(np.mean(np.abs(noise) < 0.3) - 0.682689) < 5 * np.sqrt(0.2167 / n)


def test_gaussian_noise_is_the_identity_in_inference(rng):
    x = rng.normal(size=(10, 4)).astype("float32")
    model = ember.Sequential([ember.Input((4,)), ember.layers.GaussianNoise(0.5)])

    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_gaussian_noise_with_the_same_seed_adds_the_same_noise(rng):
    x = rng.normal(size=(10, 40)).astype("float32")

    first = ember.layers.GaussianNoise(0.2, seed=5)(x, training=True)
    second = ember.layers.GaussianNoise(0.2, seed=5)(x, training=True)
    other = ember.layers.GaussianNoise(0.2, seed=6)(x, training=True)

    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


# -- ActivityRegularization -----------------------------------------------------------------


def test_activity_regularization_training_matches_keras(keras, rng):
    def build(lib):
        return lib.Sequential([lib.Input((6,)), lib.layers.Dense(5, activation="tanh"),
                               lib.layers.ActivityRegularization(l1=0.03, l2=0.02),
                               lib.layers.Dense(1)])

    keras_model, ember_model = build(keras), build(ember)
    keras_model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                             for w in keras_model.get_weights()])
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(70, 6)).astype("float32")
    y = rng.normal(size=(70, 1)).astype("float32")
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")

    kh = keras_model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    eh = ember_model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)

    for k, e in zip(keras_model.get_weights(), ember_model.get_weights()):
        assert_weights_close(e, k, **WEIGHTS_TOL)
    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=LOSS_RTOL)
    np.testing.assert_allclose(ember_model.evaluate(x, y, verbose=0),
                               keras_model.evaluate(x, y, verbose=0), rtol=LOSS_RTOL)


def test_activity_penalty_is_divided_by_the_batch_size(rng):
    model = ember.Sequential([ember.Input((4,)),
                              ember.layers.ActivityRegularization(l1=0.1, l2=0.2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.normal(size=(10, 4)).astype("float32"), rng.normal(size=(10, 4)).astype("float32")

    loss = model.evaluate(x, y, batch_size=10, verbose=0)

    x64 = x.astype(np.float64)
    penalty = (0.1 * np.abs(x64).sum() + 0.2 * (x64 ** 2).sum()) / 10
    np.testing.assert_allclose(loss, np.mean((x64 - y) ** 2) + penalty, rtol=1e-6)


# -- configs and bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.Dropout(0.3, noise_shape=(None, 1, 4), seed=3, name="n"),
    lambda lib: lib.layers.GaussianNoise(0.2, seed=9, name="n"),
    lambda lib: lib.layers.ActivityRegularization(l1=0.1, name="n"),
], ids=["dropout", "gaussian_noise", "activity_regularization"])
def test_config_matches_keras_and_round_trips(keras, make):
    keras_config, ember_config = make(keras).get_config(), make(ember).get_config()
    keras_config.pop("dtype")
    ember_config.pop("dtype")

    assert ember_config == keras_config
    rebuilt = type(make(ember)).from_config(ember_config).get_config()
    rebuilt.pop("dtype")
    assert rebuilt == ember_config


@pytest.mark.parametrize("rate", [1.5, -0.1])
def test_dropout_rate_outside_zero_one_raises(rate):
    with pytest.raises(ValueError, match="Expected a float value between 0 and 1"):
        ember.layers.Dropout(rate)


@pytest.mark.parametrize("stddev", [1.5, -0.1])
def test_gaussian_noise_stddev_outside_zero_one_raises(stddev):
    with pytest.raises(ValueError, match="Expected a float value between 0 and 1"):
        ember.layers.GaussianNoise(stddev)


def test_dropout_noise_shape_that_does_not_broadcast_raises():
    with pytest.raises(ValueError, match=r"noise_shape \(None, 3, 4\).*\(None, 2, 4\)"):
        ember.Sequential([ember.Input((2, 4)),
                          ember.layers.Dropout(0.5, noise_shape=(None, 3, 4))])


@pytest.mark.parametrize("noise_shape", ["abc", (None, 0), (None, 1.5)])
def test_dropout_malformed_noise_shape_raises(noise_shape):
    with pytest.raises(ValueError, match="noise_shape"):
        ember.layers.Dropout(0.5, noise_shape=noise_shape)


def test_activity_regularization_negative_factor_raises():
    with pytest.raises(ValueError, match="non-negative"):
        ember.layers.ActivityRegularization(l1=-0.1)
