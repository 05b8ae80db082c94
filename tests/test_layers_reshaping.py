"""Flatten and Reshape: row-major copies, checked against NumPy and Keras 3."""

import ember
import numpy as np
import pytest


@pytest.mark.parametrize("target", [(6, 2), (-1, 3), (2, -1, 2), (12,)])
def test_reshape_matches_numpy_reshape(rng, target):
    x = rng.normal(size=(5, 3, 4)).astype("float32")

    out = ember.layers.Reshape(target)(x)

    np.testing.assert_array_equal(out, x.reshape((5,) + target))


def test_reshape_infers_the_unknown_dimension_in_its_output_shape():
    model = ember.Sequential([ember.Input((3, 4)), ember.layers.Reshape((2, -1))])

    assert model.outputs[0].shape == (None, 2, 6)


def test_flatten_matches_numpy_reshape(rng):
    x = rng.normal(size=(4, 2, 3, 5)).astype("float32")

    np.testing.assert_array_equal(ember.layers.Flatten()(x), x.reshape(4, -1))


def test_flatten_channels_first_moves_the_channel_axis_last_like_keras(keras, rng):
    x = rng.normal(size=(4, 3, 2, 5)).astype("float32")

    expected = np.asarray(keras.layers.Flatten(data_format="channels_first")(x))

    np.testing.assert_array_equal(ember.layers.Flatten(data_format="channels_first")(x),
                                  expected)


def test_training_through_reshape_and_flatten_matches_keras(keras, rng):
    def build(lib):
        return lib.Sequential([lib.Input((6,)), lib.layers.Dense(12, activation="tanh"),
                               lib.layers.Reshape((3, -1)), lib.layers.Dense(5),
                               lib.layers.Flatten(data_format="channels_first"),
                               lib.layers.Dense(1)])

    keras_model, ember_model = build(keras), build(ember)
    keras_model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                             for w in keras_model.get_weights()])
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(40, 6)).astype("float32")
    y = rng.normal(size=(40, 1)).astype("float32")
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")

    kh = keras_model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    eh = ember_model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)

    # Adam divides each gradient by its own running size, so where a gradient is a
    # near-cancellation the two libraries' float32 rounding of it (different GEMM
    # summation orders) moves that weight by up to ~1e-4 after 9 steps of lr 0.01;
    # seen: 5e-5 (EMBER_TEST_SEED=3888447379). A wrong gradient moves it by ~lr.
    for k, e in zip(keras_model.get_weights(), ember_model.get_weights()):
        np.testing.assert_allclose(e, k, rtol=1e-5, atol=2e-4)
    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=5e-6)


def test_reshape_to_a_different_size_names_both_shapes():
    with pytest.raises(ValueError, match=r"input_shape=\(3, 4\), target_shape=\(5, 2\)"):
        ember.Sequential([ember.Input((3, 4)), ember.layers.Reshape((5, 2))])


def test_reshape_whose_known_dimensions_do_not_divide_the_size_names_both_shapes():
    with pytest.raises(ValueError, match=r"input_shape=\(3, 4\), target_shape=\(5, -1\)"):
        ember.Sequential([ember.Input((3, 4)), ember.layers.Reshape((5, -1))])


def test_reshape_with_two_unknown_dimensions_raises():
    with pytest.raises(ValueError, match="at most one unknown dimension"):
        ember.layers.Reshape((-1, -1))


def test_flatten_rejects_an_unknown_data_format():
    with pytest.raises(ValueError, match="data_format"):
        ember.layers.Flatten(data_format="channels_middle")
