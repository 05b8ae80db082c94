"""The functional API against Keras 3: several inputs and outputs (lists and dicts),
every merge layer, shared layers, nested models and intermediate models.

Each test builds the same graph with `build(keras)` and `build(ember)`, copies Keras's
weights into ember layer by layer (by name: functional models may order their layers
differently), and compares outputs, Histories and trained weights.
"""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

FORWARD_TOL = {"rtol": 1e-5, "atol": 1e-6}
WEIGHTS_TOL = {"rtol": 1e-5, "atol": 1e-6}
# After training, outputs carry the weights' accumulated rounding, amplified by the layers.
TRAINED_FORWARD_TOL = {"rtol": 1e-4, "atol": 1e-5}
N = 40  # 16 + 16 + 8: the last batch is partial


def randomize_and_copy(keras_model, ember_model, rng):
    """Random non-zero weights for every Keras layer, copied into ember's by name."""
    for layer in keras_model.layers:
        weights = [rng.normal(scale=0.5, size=w.shape).astype("float32")
                   for w in layer.get_weights()]
        if weights:
            layer.set_weights(weights)
            ember_model.get_layer(layer.name).set_weights(weights)


def assert_same_layer_weights(keras_model, ember_model):
    # Layers with weights are named in these tests; an unnamed weightless one (a merge) takes
    # its name from a per-library counter that other tests in the process may have moved.
    for layer in keras_model.layers:
        if not layer.weights:
            continue
        for k, e in zip(layer.get_weights(), ember_model.get_layer(layer.name).get_weights()):
            assert_weights_close(e, k, **WEIGHTS_TOL)


def two_in_two_out(lib):
    a = lib.Input((4,), name="a")
    b = lib.Input((3,), name="b")
    h = lib.layers.Concatenate(name="join")([a, b])
    h = lib.layers.Dense(6, activation="tanh", name="hidden")(h)
    reg = lib.layers.Dense(1, name="reg")(h)
    cls = lib.layers.Dense(3, activation="softmax", name="cls")(h)
    return lib.Model([a, b], [reg, cls])


def two_in_two_out_data(rng):
    x = [rng.normal(size=(N, 4)).astype("float32"), rng.normal(size=(N, 3)).astype("float32")]
    y = [rng.normal(size=(N, 1)).astype("float32"), rng.integers(0, 3, N)]
    return x, y


def test_two_inputs_two_outputs_train_like_keras(keras, rng):
    models = {lib: two_in_two_out(lib) for lib in (keras, ember)}
    randomize_and_copy(models[keras], models[ember], rng)
    x, y = two_in_two_out_data(rng)
    histories = {}
    for lib, model in models.items():
        model.compile(lib.optimizers.Adam(0.01), ["mse", "sparse_categorical_crossentropy"],
                      loss_weights=[1.0, 0.5], metrics=[["mae"], ["accuracy"]])
        histories[lib] = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                                   validation_split=0.25).history
    assert sorted(histories[ember]) == sorted(histories[keras])
    for key, values in histories[keras].items():
        np.testing.assert_allclose(histories[ember][key], values, rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    assert_same_layer_weights(models[keras], models[ember])
    np.testing.assert_allclose(models[ember].evaluate(x, y, verbose=0),
                               models[keras].evaluate(x, y, verbose=0), rtol=1e-4)
    for e, k in zip(models[ember].predict(x, verbose=0), models[keras].predict(x, verbose=0)):
        np.testing.assert_allclose(e, k, **TRAINED_FORWARD_TOL)


def test_dict_inputs_and_outputs_train_like_keras(keras, rng):
    def build(lib):
        a = lib.Input((4,), name="a")
        b = lib.Input((3,), name="b")
        h = lib.layers.Dense(5, activation="relu", name="h")(lib.layers.Concatenate()([a, b]))
        return lib.Model({"a": a, "b": b},
                         {"reg": lib.layers.Dense(1, name="reg")(h),
                          "cls": lib.layers.Dense(3, activation="softmax", name="cls")(h)})

    models = {lib: build(lib) for lib in (keras, ember)}
    randomize_and_copy(models[keras], models[ember], rng)
    (xa, xb), (yr, yc) = two_in_two_out_data(rng)
    histories = {}
    for lib, model in models.items():
        model.compile("adam", {"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                      metrics={"cls": "accuracy"})
        histories[lib] = model.fit({"a": xa, "b": xb}, {"reg": yr, "cls": yc}, batch_size=16,
                                   epochs=2, shuffle=False, verbose=0).history
    assert sorted(histories[ember]) == sorted(histories[keras])
    for key, values in histories[keras].items():
        np.testing.assert_allclose(histories[ember][key], values, rtol=1e-5, err_msg=key)
    predicted = models[ember].predict({"a": xa, "b": xb}, verbose=0)
    assert set(predicted) == {"reg", "cls"} and predicted["cls"].shape == (N, 3)


MERGES = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


@pytest.mark.parametrize("merge", MERGES)
def test_merge_layer_trains_like_keras(keras, rng, merge):
    def build(lib):
        inputs = [lib.Input((5,), name=f"x{i}") for i in range(2 if merge == "Subtract" else 3)]
        branches = [lib.layers.Dense(4, activation="tanh", name=f"d{i}")(t)
                    for i, t in enumerate(inputs)]
        merged = getattr(lib.layers, merge)(name="merge")(branches)
        return lib.Model(inputs, lib.layers.Dense(2, name="out")(merged))

    models = {lib: build(lib) for lib in (keras, ember)}
    randomize_and_copy(models[keras], models[ember], rng)
    x = [rng.normal(size=(N, 5)).astype("float32") for _ in models[keras].inputs]
    y = rng.normal(size=(N, 2)).astype("float32")
    np.testing.assert_allclose(models[ember].predict(x, verbose=0),
                               models[keras].predict(x, verbose=0), **FORWARD_TOL)
    for lib, model in models.items():
        model.compile(lib.optimizers.SGD(0.05), "mse")
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert_same_layer_weights(models[keras], models[ember])


def test_maximum_splits_the_gradient_of_a_tie_like_keras(keras, rng):
    """Both inputs equal: Keras's autodiff sends half the gradient each way."""
    def build(lib):
        x = lib.Input((3,), name="x")
        a = lib.layers.Dense(3, name="a")(x)
        b = lib.layers.Dense(3, name="b")(x)
        return lib.Model(x, lib.layers.Maximum()([a, b]))

    models = {lib: build(lib) for lib in (keras, ember)}
    weights = [rng.normal(size=(3, 3)).astype("float32"), rng.normal(size=3).astype("float32")]
    for model in models.values():
        model.get_layer("a").set_weights(weights)
        model.get_layer("b").set_weights(weights)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 3)).astype("float32")
    for lib, model in models.items():
        model.compile(lib.optimizers.SGD(0.1), "mse")
        model.train_on_batch(x, y)
    assert_same_layer_weights(models[keras], models[ember])


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate_along_an_axis_matches_keras(keras, rng, axis):
    def build(lib):
        a = lib.Input((2, 3), name="a")
        b = lib.Input((4, 3) if axis == 1 else (2, 5), name="b")  # differs along `axis`
        merged = lib.layers.Concatenate(axis=axis)([a, b])
        return lib.Model([a, b], lib.layers.Dense(4, name="d")(merged))

    models = {lib: build(lib) for lib in (keras, ember)}
    randomize_and_copy(models[keras], models[ember], rng)
    x = [rng.normal(size=(N,) + t.shape[1:]).astype("float32") for t in models[keras].inputs]
    y = rng.normal(size=models[keras].output.shape[1:]).astype("float32")
    y = np.broadcast_to(y, (N,) + y.shape).copy()
    np.testing.assert_allclose(models[ember].predict(x, verbose=0),
                               models[keras].predict(x, verbose=0), **FORWARD_TOL)
    for lib, model in models.items():
        model.compile(lib.optimizers.SGD(0.05), "mse")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert_same_layer_weights(models[keras], models[ember])


def test_a_shared_layer_accumulates_the_gradients_of_both_calls(keras, rng):
    def build(lib):
        a = lib.Input((4,), name="a")
        b = lib.Input((4,), name="b")
        shared = lib.layers.Dense(3, activation="tanh", name="shared")
        merged = lib.layers.Concatenate()([shared(a), shared(b)])
        return lib.Model([a, b], lib.layers.Dense(1, name="out")(merged))

    models = {lib: build(lib) for lib in (keras, ember)}
    randomize_and_copy(models[keras], models[ember], rng)
    assert len(models[ember].weights) == 4  # the shared layer's weights count once
    x = [rng.normal(size=(N, 4)).astype("float32") for _ in range(2)]
    y = rng.normal(size=(N, 1)).astype("float32")
    for lib, model in models.items():
        model.compile(lib.optimizers.Adam(0.01), "mse")
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert_same_layer_weights(models[keras], models[ember])


def test_a_nested_model_trains_its_own_weights(keras, rng):
    def build(lib):
        inner_in = lib.Input((4,), name="inner_in")
        inner = lib.Model(inner_in, lib.layers.Dense(5, activation="relu", name="inner_dense")(
            inner_in), name="inner")
        block = lib.Sequential([lib.Input((5,)), lib.layers.Dense(3, name="seq_dense")],
                               name="block")
        x = lib.Input((4,), name="x")
        return lib.Model(x, lib.layers.Dense(1, name="head")(block(inner(x)))), inner

    (k_model, k_inner), (e_model, e_inner) = build(keras), build(ember)
    for name, owner in (("inner_dense", "inner"), ("seq_dense", "block"), ("head", None)):
        k_layer = k_model.get_layer(owner).get_layer(name) if owner else k_model.get_layer(name)
        e_layer = e_model.get_layer(owner).get_layer(name) if owner else e_model.get_layer(name)
        weights = [rng.normal(scale=0.5, size=w.shape).astype("float32")
                   for w in k_layer.get_weights()]
        k_layer.set_weights(weights)
        e_layer.set_weights(weights)
    x = rng.normal(size=(N, 4)).astype("float32")
    y = rng.normal(size=(N, 1)).astype("float32")
    np.testing.assert_allclose(e_model.predict(x, verbose=0), k_model.predict(x, verbose=0),
                               **FORWARD_TOL)
    for lib, model in ((keras, k_model), (ember, e_model)):
        model.compile(lib.optimizers.Adam(0.01), "mse")
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    for k, e in zip(k_model.get_weights(), e_model.get_weights()):
        assert_weights_close(e, k, **WEIGHTS_TOL)
    # The inner model is the same object: it predicts with the trained weights.
    np.testing.assert_allclose(e_inner.predict(x, verbose=0), k_inner.predict(x, verbose=0),
                               **TRAINED_FORWARD_TOL)


def test_an_intermediate_model_gives_a_layers_output(rng):
    model = ember.Sequential([ember.Input((6,)), ember.layers.Dense(4, activation="relu",
                                                                    name="h"),
                              ember.layers.Dense(1, name="out")])
    x = rng.normal(size=(10, 6)).astype("float32")
    hidden = ember.Model(inputs=model.inputs, outputs=model.get_layer("h").output)
    kernel, bias = model.get_layer("h").get_weights()
    np.testing.assert_allclose(hidden.predict(x, verbose=0),
                               np.maximum(x.astype(np.float64) @ kernel + bias, 0), rtol=1e-5,
                               atol=1e-6)


def test_inputs_outputs_and_get_layer_are_keras_s(rng):
    model = two_in_two_out(ember)
    assert [t.shape for t in model.inputs] == [(None, 4), (None, 3)]
    assert [t.shape for t in model.outputs] == [(None, 1), (None, 3)]
    assert model.get_layer("hidden").input.shape == (None, 7)
    assert model.get_layer("hidden").output.shape == (None, 6)
    assert model.get_layer(index=0).name in ("a", "b")
    assert model.get_layer("cls") is model.layers[-1] or model.get_layer("cls") in model.layers


def test_merge_layers_run_eagerly_on_arrays(rng):
    a, b = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(ember.layers.Add()([a, b]), a + b, rtol=1e-6)
    np.testing.assert_allclose(ember.layers.Maximum()([a, b]), np.maximum(a, b))
    np.testing.assert_allclose(ember.layers.Concatenate()([a, b]), np.concatenate([a, b], -1))


def test_merging_different_shapes_names_both():
    a, b = ember.Input((4,)), ember.Input((5,))
    with pytest.raises(ValueError, match=r"\(None, 4\).*\(None, 5\)"):
        ember.layers.Add()([a, b])


def test_subtract_of_three_inputs_is_rejected():
    inputs = [ember.Input((2,)) for _ in range(3)]
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        ember.layers.Subtract()(inputs)


def test_concatenate_of_mismatched_shapes_is_rejected():
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        ember.layers.Concatenate(axis=1)([ember.Input((2, 3)), ember.Input((2, 4))])


def test_a_flat_metrics_list_for_two_outputs_is_rejected(rng):
    model = two_in_two_out(ember)
    model.compile("adam", ["mse", "sparse_categorical_crossentropy"], metrics=["mae"])
    x, y = two_in_two_out_data(rng)
    with pytest.raises(ValueError, match="Invalid `metrics`"):
        model.fit(x, y, epochs=1, verbose=0)


def test_an_output_that_needs_an_input_not_given_is_disconnected():
    a, b = ember.Input((2,), name="a"), ember.Input((2,), name="b")
    merged = ember.layers.Add()([a, b])
    with pytest.raises(ValueError, match="disconnected"):
        ember.Model(a, merged)


# -- sample and class weights in fit / evaluate --------------------------------------


def weighted_classifier(lib):
    x = lib.Input((5,), name="x")
    h = lib.layers.Dense(6, activation="tanh", name="h")(x)
    return lib.Model(x, lib.layers.Dense(3, activation="softmax", name="out")(h))


@pytest.mark.parametrize("weighting", ["sample_weight", "class_weight"])
def test_fit_with_sample_and_class_weights_matches_keras(keras, rng, weighting):
    models = {lib: weighted_classifier(lib) for lib in (keras, ember)}
    randomize_and_copy(models[keras], models[ember], rng)
    x = rng.normal(size=(N, 5)).astype("float32")
    y = rng.integers(0, 3, N)
    kwargs = {}
    if weighting == "sample_weight":
        kwargs["sample_weight"] = rng.uniform(0.2, 2.0, N).astype("float32")
    else:
        kwargs["class_weight"] = {0: 0.5, 1: 2.0, 2: 1.5}
    histories = {}
    for lib, model in models.items():
        model.compile(lib.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        histories[lib] = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                                   validation_split=0.25, **kwargs).history
    for key, values in histories[keras].items():
        np.testing.assert_allclose(histories[ember][key], values, rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    # Adam (lr 0.01) divides by sqrt(v): where a weight's gradients are tiny, float32
    # rounding differences in the weighted sums grow to a few 1e-6 over 12 steps
    # (seen: 6.7e-6 on one of 30 weights with EMBER_TEST_SEED=2778731254).
    for layer in models[keras].layers:
        for k, e in zip(layer.get_weights(), models[ember].get_layer(layer.name).get_weights()):
            np.testing.assert_allclose(e, k, rtol=1e-5, atol=2e-5)
    if "sample_weight" in kwargs:
        np.testing.assert_allclose(
            models[ember].evaluate(x, y, sample_weight=kwargs["sample_weight"], verbose=0),
            models[keras].evaluate(x, y, sample_weight=kwargs["sample_weight"], verbose=0),
            rtol=1e-4)


def test_class_weight_with_sample_weight_is_rejected_as_keras_does(rng):
    model = weighted_classifier(ember)
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = rng.normal(size=(N, 5)), rng.integers(0, 3, N)
    with pytest.raises(ValueError, match="at the same time"):
        model.fit(x, y, sample_weight=np.ones(N), class_weight={0: 2.0}, epochs=1, verbose=0)


def test_class_weight_on_a_two_output_model_is_rejected(rng):
    model = two_in_two_out(ember)
    model.compile("adam", ["mse", "sparse_categorical_crossentropy"])
    x, y = two_in_two_out_data(rng)
    with pytest.raises(ValueError, match="single output"):
        model.fit(x, y, class_weight={0: 1.0}, epochs=1, verbose=0)


def test_sample_weight_of_the_wrong_length_is_rejected(rng):
    model = weighted_classifier(ember)
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = rng.normal(size=(N, 5)), rng.integers(0, 3, N)
    with pytest.raises(ValueError, match="one weight per sample"):
        model.fit(x, y, sample_weight=np.ones(N - 1), epochs=1, verbose=0)
