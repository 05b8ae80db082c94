"""ember's Keras-style API: what fit/evaluate/predict return, how models, layers and
weights look from Python, and the utilities - checked against Keras 3 where that is
cheap."""

import subprocess
import sys

import ember
import numpy as np
import pandas as pd
import pytest
from ember import layers

FEATURES = 4


@pytest.fixture
def x(rng):
    return rng.normal(size=(50, FEATURES)).astype("float32")


@pytest.fixture
def y(rng):
    return rng.normal(size=(50, 1)).astype("float32")


def build(lib, units=1, activation=None):
    return lib.Sequential([
        lib.Input((FEATURES,)),
        lib.layers.Dense(3, activation="relu"),
        lib.layers.Dense(units, activation=activation),
    ])


def compiled(lib=ember, metrics=None, optimizer="adam"):
    model = build(lib)
    model.compile(optimizer, "mse", metrics=metrics)
    return model


# -- fit's History ---------------------------------------------------------------------------


def test_history_matches_keras_in_keys_epochs_and_params(keras, x, y):
    fit_args = {"epochs": 3, "batch_size": 16, "validation_split": 0.2, "verbose": 0}
    expected = compiled(keras, metrics=["mae"]).fit(x, y, **fit_args)
    got = compiled(ember, metrics=["mae"]).fit(x, y, **fit_args)

    assert sorted(got.history) == sorted(expected.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert all(len(values) == 3 for values in got.history.values())
    assert got.epoch == expected.epoch == [0, 1, 2]
    assert got.params == expected.params


def test_fit_returns_the_history_it_keeps_on_the_model(x, y):
    model = compiled()
    history = model.fit(x, y, epochs=2, verbose=0)
    assert model.history is history
    assert history.model is model


def test_validation_data_adds_val_keys_equal_to_evaluate(x, y, rng):
    x_val = rng.normal(size=(13, FEATURES)).astype("float32")
    y_val = rng.normal(size=(13, 1)).astype("float32")
    model = compiled(metrics=["mae"])

    history = model.fit(x, y, epochs=2, validation_data=(x_val, y_val), verbose=0).history

    assert sorted(history) == ["loss", "mae", "val_loss", "val_mae"]
    final = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    assert history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert history["val_mae"][-1] == pytest.approx(final["mae"], rel=1e-6)


def test_validation_split_holds_out_the_last_samples(x, y):
    model = compiled()

    history = model.fit(x, y, epochs=2, validation_split=0.3, shuffle=True, verbose=0).history

    held_out = slice(35, None)  # floor(50 * 0.7) = 35 samples train, split before shuffling
    assert history["val_loss"][-1] == pytest.approx(
        model.evaluate(x[held_out], y[held_out], verbose=0), rel=1e-6)


def test_initial_epoch_resumes_the_epoch_count(keras, x, y):
    expected = compiled(keras).fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    got = compiled().fit(x, y, epochs=5, initial_epoch=3, verbose=0)

    assert len(got.history["loss"]) == 2
    assert got.epoch == expected.epoch == [3, 4]


def test_zero_epochs_trains_nothing(x, y):
    model = compiled()
    before = model.get_weights()
    history = model.fit(x, y, epochs=0, verbose=0)
    assert history.history == {}
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


# -- evaluate, predict, *_on_batch -----------------------------------------------------------


def test_evaluate_without_metrics_returns_a_scalar(keras, x, y):
    assert isinstance(compiled(keras).evaluate(x, y, verbose=0), float)
    assert isinstance(compiled().evaluate(x, y, verbose=0), float)


def test_evaluate_with_metrics_returns_a_list(x, y):
    result = compiled(metrics=["mae", "mse"]).evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 3
    assert result[0] == pytest.approx(result[2], rel=1e-6)  # the loss is the mse


def test_evaluate_return_dict_names_loss_and_metrics(x, y):
    result = compiled(metrics=["mae"]).evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(result) == ["loss", "mae"]
    assert all(isinstance(v, float) for v in result.values())


def test_evaluate_batch_size_does_not_change_the_result(x, y):
    model = compiled(metrics=["mae"])
    whole = model.evaluate(x, y, batch_size=50, verbose=0)
    batched = model.evaluate(x, y, batch_size=7, verbose=0)
    np.testing.assert_allclose(batched, whole, rtol=1e-6)


def test_metrics_names_are_reported_as_keras_3_reports_them(x, y):
    model = compiled(metrics=["mae"])
    model.fit(x, y, epochs=1, verbose=0)
    assert model.metrics_names == ["loss", "compile_metrics"]


@pytest.mark.parametrize("rows", [1, 7, 50])
def test_predict_returns_one_row_per_sample(x, rows):
    model = build(ember, units=3, activation="softmax")
    predictions = model.predict(x[:rows], verbose=0)
    assert isinstance(predictions, np.ndarray)
    assert predictions.shape == (rows, 3) and predictions.dtype == np.float32


def test_predict_batch_size_does_not_change_the_result(x):
    model = build(ember, units=2)
    np.testing.assert_allclose(model.predict(x, batch_size=3, verbose=0),
                               model.predict(x, batch_size=50, verbose=0), rtol=1e-6, atol=1e-7)


def test_predict_accepts_dataframes_and_lists(x):
    model = build(ember, units=2)
    expected = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(pd.DataFrame(x), verbose=0), expected)
    np.testing.assert_allclose(model.predict(x.tolist(), verbose=0), expected, rtol=1e-6)


def test_calling_the_model_equals_predict(x):
    model = build(ember, units=2, activation="tanh")
    np.testing.assert_allclose(np.asarray(model(x)), model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), model.predict(x, verbose=0), rtol=1e-6)


def test_train_on_batch_returns_the_loss_before_the_step(x, y):
    model = compiled(optimizer=ember.optimizers.SGD(0.01))
    loss_before = model.evaluate(x, y, batch_size=50, verbose=0)

    assert model.train_on_batch(x, y) == pytest.approx(loss_before, rel=1e-6)
    assert model.test_on_batch(x, y) < loss_before
    assert model.optimizer.iterations == 1


def test_on_batch_methods_return_lists_and_dicts_with_metrics(x, y):
    model = compiled(metrics=["mae"])
    assert len(model.train_on_batch(x, y)) == 2
    assert sorted(model.test_on_batch(x, y, return_dict=True)) == ["loss", "mae"]


def test_compile_accepts_loss_functions_and_classes(x, y):
    by_name, by_function, by_class = (build(ember) for _ in range(3))
    by_function.set_weights(by_name.get_weights())
    by_class.set_weights(by_name.get_weights())
    by_name.compile("sgd", "mean_squared_error")
    by_function.compile(ember.optimizers.SGD(), ember.losses.mean_squared_error)
    by_class.compile(ember.optimizers.SGD(), ember.losses.MeanSquaredError())

    losses = [m.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"]
              for m in (by_name, by_function, by_class)]
    assert losses[0] == losses[1] == losses[2]


# -- models, layers, weights -----------------------------------------------------------------


def test_get_weights_set_weights_round_trip(rng):
    model = build(ember, units=2)
    values = [rng.normal(size=w.shape) for w in model.get_weights()]

    model.set_weights(values)

    for got, value in zip(model.get_weights(), values):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, value.astype(np.float32))


def test_get_weights_returns_copies():
    model = build(ember)
    weights = model.get_weights()
    weights[0][:] = 5.0
    assert not np.any(model.get_weights()[0] == 5.0)


def test_layer_set_weights_changes_the_model(x, rng):
    model = build(ember, units=2)
    before = model.predict(x, verbose=0)
    layer = model.layers[1]
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    assert not np.allclose(model.predict(x, verbose=0), before)
    np.testing.assert_array_equal(model.get_weights()[2], layer.kernel.numpy())


def test_layer_kernel_and_bias(keras):
    for lib in (keras, ember):
        dense = build(lib, units=2).layers[0]
        assert tuple(dense.kernel.shape) == (FEATURES, 3)
        assert tuple(dense.bias.shape) == (3,)
        assert dense.kernel.numpy().dtype == np.float32
        np.testing.assert_array_equal(dense.bias.numpy(), np.zeros(3))  # bias starts at 0


def test_dense_without_bias_has_only_a_kernel():
    model = ember.Sequential([ember.Input((FEATURES,)), layers.Dense(3, use_bias=False)])
    dense = model.layers[0]
    assert dense.bias is None
    assert [w.shape for w in model.get_weights()] == [(FEATURES, 3)]
    assert model.count_params() == FEATURES * 3


def test_count_params():
    assert build(ember, units=2).count_params() == (FEATURES * 3 + 3) + (3 * 2 + 2)


SEQUENTIAL_FORMS = {
    "input_first": lambda lib: lib.Sequential([lib.Input((FEATURES,)), lib.layers.Dense(2)]),
    "input_shape_argument": lambda lib: lib.Sequential(
        [lib.layers.Dense(2, input_shape=(FEATURES,))]),
    "add": lambda lib: _added(lib),
}


def _added(lib):
    model = lib.Sequential()
    model.add(lib.Input((FEATURES,)))
    model.add(lib.layers.Dense(3))
    model.add(lib.layers.Dense(2))
    return model


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
@pytest.mark.parametrize("form", list(SEQUENTIAL_FORMS))
def test_sequential_layers_exclude_the_input_layer(keras, form):
    expected = SEQUENTIAL_FORMS[form](keras).layers
    got = SEQUENTIAL_FORMS[form](ember).layers
    assert [type(layer).__name__ for layer in got] == [type(lay).__name__ for lay in expected]
    assert all(type(layer).__name__ == "Dense" for layer in got)


def test_functional_model_layers_include_the_input_layer(keras):
    def functional(lib):
        inputs = lib.Input((FEATURES,))
        return lib.Model(inputs, lib.layers.Dense(2)(lib.layers.Dense(3)(inputs)))

    expected = [type(layer).__name__ for layer in functional(keras).layers]
    assert [type(layer).__name__ for layer in functional(ember).layers] == expected
    assert expected == ["InputLayer", "Dense", "Dense"]


def test_default_names_count_up_like_keras():
    """Names are unique per process, so a fresh interpreter shows the first ones."""
    script = (
        "import ember\n"
        "m = ember.Sequential([ember.Input((3,)), ember.layers.Dense(2),\n"
        "                      ember.layers.Dense(2), ember.layers.Activation('relu')])\n"
        "n = ember.Sequential([ember.layers.Dense(1, input_shape=(3,))])\n"
        "print(m.name, *[layer.name for layer in m.layers], n.name, n.layers[0].name)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["sequential", "dense", "dense_1", "activation", "sequential_1", "dense_2"]


def test_ember_imports_as_keras():
    import ember as keras

    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(2),
                              keras.layers.Activation("softmax")])
    assert keras.models.Sequential is keras.Sequential
    assert keras.models.Model is keras.Model
    assert keras.layers.Input is keras.Input
    assert isinstance(model, keras.Model)
    for name in ("SGD", "Adam", "RMSprop"):
        assert isinstance(getattr(keras.optimizers, name)(), keras.optimizers.Optimizer)
    assert callable(keras.utils.to_categorical) and callable(keras.utils.set_random_seed)


def test_backend_is_cpu():
    assert ember.backend.backend() == "cpu"
    assert ember.backend.floatx() == "float32"
    assert ember.backend.epsilon() == 1e-7


# -- utilities ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, num_classes", [((30,), None), ((30,), 9), ((30, 1), None),
                                                ((5, 6), 7)])
def test_to_categorical_equals_keras(keras, rng, shape, num_classes):
    labels = rng.integers(0, 7, size=shape)
    expected = keras.utils.to_categorical(labels, num_classes)
    got = ember.utils.to_categorical(labels, num_classes)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def train_from_seed(seed, x, y):
    ember.utils.set_random_seed(seed)
    model = compiled(metrics=["mae"])
    history = model.fit(x, y, epochs=3, batch_size=8, shuffle=True, verbose=0).history
    return model.get_weights(), history


def test_set_random_seed_makes_runs_identical(x, y):
    first_weights, first_history = train_from_seed(7, x, y)
    second_weights, second_history = train_from_seed(7, x, y)

    assert first_history == second_history
    for a, b in zip(first_weights, second_weights):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_give_different_runs(x, y):
    weights_7, _ = train_from_seed(7, x, y)
    weights_8, _ = train_from_seed(8, x, y)
    assert not np.array_equal(weights_7[0], weights_8[0])


def test_shuffle_true_and_false_both_converge(rng):
    x = rng.normal(size=(200, FEATURES)).astype("float32")
    y = (x @ rng.normal(size=(FEATURES, 1)) + 0.5).astype("float32")  # linear: learnable
    start = ember.Sequential([ember.Input((FEATURES,)), layers.Dense(1)]).get_weights()
    runs = {}
    for shuffle in (True, False):
        model = ember.Sequential([ember.Input((FEATURES,)), layers.Dense(1)])
        model.set_weights(start)
        model.compile(ember.optimizers.Adam(0.05), "mse")
        runs[shuffle] = model.fit(x, y, batch_size=16, epochs=40, shuffle=shuffle, verbose=0)

    for history in runs.values():
        assert history.history["loss"][-1] < 1e-3 * history.history["loss"][0]
    # Shuffling changes the batches, hence the path: the losses are not the same.
    assert runs[True].history["loss"][0] != runs[False].history["loss"][0]


# -- what fit prints ---------------------------------------------------------------------------


def test_verbose_2_prints_one_line_per_epoch(x, y, capsys):
    compiled(metrics=["mae"]).fit(x, y, epochs=2, batch_size=16, verbose=2)

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert len(lines) == 4
    for line in (lines[1], lines[3]):
        assert line.startswith("4/4 - ") and "loss:" in line and "mae:" in line


def test_verbose_0_prints_nothing(x, y, capsys):
    model = compiled(metrics=["mae"])
    model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)

    assert capsys.readouterr() == ("", "")
