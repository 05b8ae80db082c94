"""models.clone_model: same architecture and configs, fresh weights, as Keras's."""

import ember
import numpy as np
import pytest
from ember import layers


def _sequential():
    return ember.Sequential([ember.Input((5,)), layers.Dense(4, activation="relu", name="h"),
                             layers.Dropout(0.2), layers.Dense(2, name="out")], name="seq")


def _functional():
    a, b = ember.Input((5,), name="a"), ember.Input((3,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    h = layers.Concatenate(name="cat")([shared(a), layers.Dense(4, name="side")(b)])
    out1 = layers.Dense(2, name="out1")(h)
    out2 = layers.Dense(1, activation="sigmoid", name="out2")(shared(a))
    return ember.Model([a, b], [out1, out2], name="two_heads")


def _layer_configs(model):
    return [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"})
            for layer in model.layers]


@pytest.mark.parametrize("make", [_sequential, _functional], ids=["sequential", "functional"])
def test_clone_has_the_same_configs_and_fresh_weights(make):
    model = make()
    clone = ember.models.clone_model(model)
    assert type(clone) is type(model) and clone.name == model.name
    assert _layer_configs(clone) == _layer_configs(model)
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    kernels = [(a, b) for a, b in zip(clone.get_weights(), model.get_weights()) if a.ndim == 2]
    assert kernels and all(not np.array_equal(a, b) for a, b in kernels)


@pytest.mark.parametrize("make", [_sequential, _functional], ids=["sequential", "functional"])
def test_clone_with_copied_weights_predicts_the_same(make, rng):
    model = make()
    clone = ember.models.clone_model(model)
    clone.set_weights(model.get_weights())
    xs = [rng.normal(0, 1, (6,) + t.shape[1:]).astype(np.float32) for t in model.inputs]
    x = xs if len(xs) > 1 else xs[0]
    ours, theirs = clone.predict(x, verbose=0), model.predict(x, verbose=0)
    assert type(ours) is type(theirs)
    for a, b in zip(ours if isinstance(ours, list) else [ours],
                    theirs if isinstance(theirs, list) else [theirs]):
        np.testing.assert_array_equal(a, b)


def test_a_shared_layer_stays_shared_in_the_clone():
    clone = ember.models.clone_model(_functional())
    names = [layer.name for layer in clone.layers]
    assert names.count("shared") == 1
    assert len(clone.weights) == len(_functional().weights)


def test_clone_function_replaces_layers():
    def no_activation(layer):
        config = layer.get_config()
        if "activation" in config:
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    clone = ember.models.clone_model(_sequential(), clone_function=no_activation)
    assert clone.get_layer("h").get_config()["activation"] == "linear"
    calls = []
    ember.models.clone_model(_functional(),
                             clone_function=lambda layer: calls.append(layer.name) or layer)
    assert sorted(calls) == ["cat", "out1", "out2", "shared", "side"]


def test_clone_on_given_input_tensors():
    new_input = ember.Input((5,), name="fresh")
    clone = ember.models.clone_model(_sequential(), input_tensors=new_input)
    assert clone.inputs[0] is new_input
    a, b = ember.Input((5,)), ember.Input((3,))
    clone = ember.models.clone_model(_functional(), input_tensors=[a, b])
    assert clone.inputs[0] is a and clone.inputs[1] is b
    with pytest.raises(ValueError, match="same structure"):
        ember.models.clone_model(_functional(), input_tensors=[a])
    with pytest.raises(ValueError, match="single tensor"):
        ember.models.clone_model(_sequential(), input_tensors=[a, b])
    with pytest.raises(ValueError, match="ember.Input"):
        ember.models.clone_model(_sequential(), input_tensors=layers.Dense(5)(a))


def test_call_function_and_recursive_cloning():
    seen = []

    def call_function(layer, *args, **kwargs):
        seen.append(layer.name)
        return layer(*args, **kwargs)

    ember.models.clone_model(_functional(), call_function=call_function)
    assert "out1" in seen and seen.count("shared") == 2
    with pytest.raises(ValueError, match="call_function"):
        ember.models.clone_model(_sequential(), call_function=call_function)
    inner = _sequential()
    inp = ember.Input((5,))
    outer = ember.Model(inp, layers.Dense(1)(inner(inp)))
    cloned = ember.models.clone_model(outer, recursive=True)
    nested = [layer for layer in cloned.layers if isinstance(layer, ember.Sequential)]
    assert nested and nested[0] is not inner
    assert _layer_configs(nested[0]) == _layer_configs(inner)


def test_a_compiled_model_clones_compiled(rng):
    model = _sequential()
    model.compile(ember.optimizers.Adam(learning_rate=0.003), "mse", metrics=["mae"])
    clone = ember.models.clone_model(model)
    assert clone.compiled
    assert clone.optimizer is not model.optimizer
    assert float(clone.optimizer.learning_rate) == pytest.approx(0.003)
    x, y = rng.normal(0, 1, (8, 5)), rng.normal(0, 1, (8, 2))
    assert set(clone.evaluate(x, y, return_dict=True, verbose=0)) == {"loss", "mae"}


def test_clone_rejects_what_keras_rejects():
    with pytest.raises(ValueError, match="Unexpected keyword"):
        ember.models.clone_model(_sequential(), copy_weights=True)
    with pytest.raises(ValueError, match="Model instance"):
        ember.models.clone_model(layers.Dense(2))
    with pytest.raises(ValueError, match="callable"):
        ember.models.clone_model(_sequential(), clone_function=3)
