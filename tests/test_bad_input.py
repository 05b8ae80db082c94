"""Wrong input gets a clear ValueError or TypeError that names the problem - never a
crash of the interpreter, a hang, or a silent wrong answer."""

import ember
import numpy as np
import pandas as pd
import pytest
from ember import layers

FEATURES = 4


@pytest.fixture
def x(rng):
    return rng.normal(size=(20, FEATURES)).astype("float32")


@pytest.fixture
def y(rng):
    return rng.normal(size=(20, 1)).astype("float32")


def regression_model(compile=True):
    model = ember.Sequential([
        ember.Input((FEATURES,)),
        layers.Dense(3, activation="relu"),
        layers.Dense(1),
    ])
    if compile:
        model.compile("adam", "mse")
    return model


def classifier(loss, classes=3):
    model = ember.Sequential([
        ember.Input((FEATURES,)),
        layers.Dense(5, activation="relu"),
        layers.Dense(classes, activation="softmax"),
    ])
    model.compile("adam", loss, metrics=["accuracy"])
    return model


# -- shapes and lengths ----------------------------------------------------------------


def test_x_and_y_of_different_lengths(x, y):
    with pytest.raises(ValueError, match=r"same number of samples.*20 and 15"):
        regression_model().fit(x, y[:15], verbose=0)


def test_x_and_y_of_different_lengths_in_validation_data(x, y):
    with pytest.raises(ValueError, match=r"same number of samples.*5 and 4"):
        regression_model().fit(x, y, validation_data=(x[:5], y[:4]), verbose=0)


def test_wrong_number_of_features_in_fit(x, y):
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4\), found shape=\(20, 3\)"):
        regression_model().fit(x[:, :3], y, verbose=0)


def test_wrong_number_of_features_in_predict(x):
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4\), found shape=\(20, 5\)"):
        regression_model().predict(np.hstack([x, x[:, :1]]), verbose=0)


def test_one_hot_targets_with_more_classes_than_outputs(x, rng):
    one_hot = np.eye(4, dtype="float32")[rng.integers(0, 4, size=20)]
    with pytest.raises(ValueError, match=r"Target shape \(20, 4\).*output shape \(None, 3\)"):
        classifier("categorical_crossentropy").fit(x, one_hot, verbose=0)


@pytest.mark.parametrize("shape", [(20,), (20, 1)], ids=["flat", "column"])
def test_integer_labels_with_categorical_crossentropy_suggest_a_fix(x, rng, shape):
    labels = rng.integers(0, 3, size=shape)
    with pytest.raises(ValueError, match=r"to_categorical.*sparse_categorical_crossentropy"):
        classifier("categorical_crossentropy").fit(x, labels, verbose=0)


# -- names -----------------------------------------------------------------------------


def test_unknown_activation_in_dense():
    with pytest.raises(ValueError, match=r"activation.*'relux'"):
        layers.Dense(3, activation="relux")


def test_unknown_activation_in_activation_layer():
    with pytest.raises(ValueError, match=r"activation.*'softmaxx'"):
        layers.Activation("softmaxx")


def test_unknown_loss():
    with pytest.raises(ValueError, match=r"loss identifier: mean_sqared_error"):
        regression_model(compile=False).compile("adam", "mean_sqared_error")


def test_unknown_optimizer():
    with pytest.raises(ValueError, match=r"optimizer identifier: adamw?x"):
        regression_model(compile=False).compile("adamx", "mse")


def test_unknown_metric():
    with pytest.raises(ValueError, match=r"metric identifier: accuracyy"):
        regression_model(compile=False).compile("adam", "mse", metrics=["accuracyy"])


# -- sparse labels -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", [3, 7, -1], ids=["one_too_big", "far_too_big", "negative"])
def test_sparse_labels_out_of_range(x, rng, bad):
    labels = rng.integers(0, 3, size=20)
    labels[5] = bad
    with pytest.raises(ValueError, match=r"Labels must be integers in \[0, 2\]"):
        classifier("sparse_categorical_crossentropy").fit(x, labels, verbose=0)


def test_sparse_labels_that_are_not_integers(x, rng):
    labels = rng.integers(0, 3, size=20).astype("float32")
    labels[7] = 1.5
    with pytest.raises(ValueError, match=r"Labels must be integers"):
        classifier("sparse_categorical_crossentropy").fit(x, labels, verbose=0)


def test_sparse_labels_out_of_range_in_evaluate(x, rng):
    labels = rng.integers(3, 6, size=20)
    with pytest.raises(ValueError, match=r"Labels must be integers in \[0, 2\]"):
        classifier("sparse_categorical_crossentropy").evaluate(x, labels, verbose=0)


# -- batch_size, epochs, validation_split ---------------------------------------------------


@pytest.mark.parametrize("batch_size", [0, -4])
def test_batch_size_not_positive(x, y, batch_size):
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer"):
        regression_model().fit(x, y, batch_size=batch_size, verbose=0)


@pytest.mark.parametrize("batch_size", [8.0, 2.5, "8"])
def test_batch_size_not_an_int(x, y, batch_size):
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer"):
        regression_model().fit(x, y, batch_size=batch_size, verbose=0)


@pytest.mark.parametrize("method", ["evaluate", "predict"])
def test_batch_size_zero_outside_fit(x, y, method):
    model = regression_model()
    args = (x, y) if method == "evaluate" else (x,)
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer"):
        getattr(model, method)(*args, batch_size=0, verbose=0)


def test_negative_epochs(x, y):
    with pytest.raises(ValueError, match=r"`epochs` must be a non-negative integer"):
        regression_model().fit(x, y, epochs=-1, verbose=0)


@pytest.mark.parametrize("samples, split", [(1, 0.5), (20, 1e-17)],
                         ids=["no_training_samples", "no_validation_samples"])
def test_validation_split_leaving_a_side_empty(x, y, samples, split):
    with pytest.raises(ValueError, match=r"not sufficient to split"):
        regression_model().fit(x[:samples], y[:samples], validation_split=split, verbose=0)


@pytest.mark.parametrize("split", [1.0, 1.5, -0.2])
def test_validation_split_outside_0_1(x, y, split):
    with pytest.raises(ValueError, match=r"`validation_split` must be in \(0, 1\)"):
        regression_model().fit(x, y, validation_split=split, verbose=0)


# -- the data itself -----------------------------------------------------------------------


def test_empty_data(x, y):
    with pytest.raises(ValueError, match=r"`x` is empty"):
        regression_model().fit(x[:0], y[:0], verbose=0)


def test_empty_data_in_predict(x):
    with pytest.raises(ValueError, match=r"`x` is empty"):
        regression_model().predict(x[:0], verbose=0)


def test_strings_in_a_numpy_array(y):
    words = np.array([["low", "high", "med", "low"]] * 20)
    with pytest.raises(TypeError, match=r"`x` must be numeric.*dtype <U"):
        regression_model().fit(words, y, verbose=0)


def test_string_targets(x):
    with pytest.raises(TypeError, match=r"`y` must be numeric"):
        regression_model().fit(x, np.array([["yes"]] * 20), verbose=0)


def test_dataframe_with_a_string_column(x, y):
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["c"] = ["small", "big"] * 10
    with pytest.raises(TypeError, match=r"DataFrame columns \['c'\] are not.*get_dummies"):
        regression_model().fit(frame, y, verbose=0)


def test_dataframe_with_a_string_column_in_predict(x):
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["a"] = "vhigh"
    with pytest.raises(TypeError, match=r"DataFrame columns \['a'\]"):
        regression_model().predict(frame, verbose=0)


def test_object_array_is_rejected(x, y):
    with pytest.raises(TypeError, match=r"`x` must be numeric.*object"):
        regression_model().fit(x.astype(object), y, verbose=0)


def test_ragged_lists(y):
    ragged = [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]] * 10
    with pytest.raises(ValueError, match=r"`x` could not be turned into an array"):
        regression_model().fit(ragged, y, verbose=0)


def test_nan_in_x(x, y):
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"`x` contains NaN"):
        regression_model().fit(x, y, verbose=0)


def test_nan_message_gives_a_readable_index(x):
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"first at index \(3, 2\)"):
        regression_model().predict(x, verbose=0)


def test_infinity_in_y(x, y):
    y[1, 0] = np.inf
    with pytest.raises(ValueError, match=r"`y` contains NaN or infinity"):
        regression_model().fit(x, y, verbose=0)


def test_missing_y(x):
    with pytest.raises(ValueError, match=r"`y` is required"):
        regression_model().fit(x, verbose=0)


# -- order of calls --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_training_or_evaluating_before_compile(x, y, method):
    model = regression_model(compile=False)
    kwargs = {"verbose": 0} if method in ("fit", "evaluate") else {}
    with pytest.raises(ValueError, match=r"must call `compile\(\)`"):
        getattr(model, method)(x, y, **kwargs)


# -- weights and layers ------------------------------------------------------------------------


def test_model_set_weights_with_wrong_count():
    model = regression_model()
    with pytest.raises(ValueError, match=r"weight list of length 2.*expecting 4 weights"):
        model.set_weights(model.get_weights()[:2])


def test_model_set_weights_with_wrong_shapes():
    model = regression_model()
    transposed = [w.T for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"has shape \(4, 3\).*shape \(3, 4\)"):
        model.set_weights(transposed)


def test_model_set_weights_with_wrong_shapes_changes_nothing(rng):
    model = regression_model()
    before = model.get_weights()
    wrong = [rng.normal(size=w.shape) for w in before]
    wrong[-1] = rng.normal(size=(2,))
    with pytest.raises(ValueError):
        model.set_weights(wrong)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_layer_set_weights_with_wrong_count():
    layer = regression_model().layers[0]
    with pytest.raises(ValueError, match=r"expects 2 weights, but received 1"):
        layer.set_weights([np.ones((FEATURES, 3))])


def test_layer_set_weights_with_wrong_shape():
    layer = regression_model().layers[0]
    with pytest.raises(ValueError, match=r"shape \(4, 3\) is not compatible.*\(3, 3\)"):
        layer.set_weights([np.ones((3, 3)), np.ones(3)])


@pytest.mark.parametrize("units", [0, -2, 2.5])
def test_dense_units_not_a_positive_integer(units):
    with pytest.raises(ValueError, match=r"invalid value for `units`.*units=" + str(units)):
        layers.Dense(units)
