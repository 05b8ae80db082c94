"""Keras's top-level aliases (ember.Layer, ember.Loss, ...), ember.version(), InputSpec
as Keras checks it, and layers.serialize/deserialize."""

import ember
import numpy as np
import pytest


def test_top_level_aliases_are_the_module_classes():
    assert ember.Layer is ember.layers.Layer
    assert ember.Loss is ember.losses.Loss
    assert ember.Metric is ember.metrics.Metric
    assert ember.Optimizer is ember.optimizers.Optimizer
    assert ember.Initializer is ember.initializers.Initializer
    assert ember.Regularizer is ember.regularizers.Regularizer
    assert ember.Constraint is ember.constraints.Constraint
    assert ember.InputSpec is ember.layers.InputSpec
    assert ember.KerasTensor is type(ember.Input((2,)))
    layer = ember.layers.Dense(2)
    layer.build((None, 3))
    assert isinstance(layer.kernel, ember.Variable)
    assert ember.version() == ember.__version__ and isinstance(ember.__version__, str)


class Rank3Only(ember.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = ember.InputSpec(ndim=3, axes={-1: 4})

    def call(self, x):
        return x * 2.0


def test_input_spec_is_checked_on_each_call_as_keras(keras, rng):
    ok = Rank3Only(name="rank3")
    out = ok(ember.Input((5, 4)))
    assert out.shape == (None, 5, 4)
    np.testing.assert_allclose(ok(np.ones((2, 5, 4), np.float32)), 2.0)
    with pytest.raises(ValueError, match=r"rank3.*expected ndim=3, found ndim=2"):
        Rank3Only(name="rank3")(ember.Input((4,)))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 4"):
        Rank3Only()(ember.Input((5, 3)))
    for K in (ember, keras):
        spec = K.InputSpec(shape=(None, 3), dtype="float32", min_ndim=2)
        assert repr(spec) == "InputSpec(dtype=float32, shape=(None, 3), ndim=2, min_ndim=2)"
        assert K.InputSpec.from_config(spec.get_config()).get_config() == spec.get_config()
    assert ember.InputSpec(ndim=2, axes={1: 3}).get_config() == \
        keras.InputSpec(ndim=2, axes={1: 3}).get_config()
    with pytest.raises(TypeError, match="axes"):
        ember.InputSpec(axes={"a": 1})
    with pytest.raises(ValueError, match="greater than the maximum"):
        ember.InputSpec(ndim=2, axes={3: 1})


def test_layers_serialize_and_deserialize_as_keras(keras):
    layer = ember.layers.Dense(3, activation="relu", name="d")
    config = ember.layers.serialize(layer)
    theirs = keras.layers.serialize(keras.layers.Dense(3, activation="relu", name="d"))
    assert config["module"] == theirs["module"] and config["class_name"] == theirs["class_name"]
    back = ember.layers.deserialize(theirs)
    assert type(back) is ember.layers.Dense and back.units == 3 and back.name == "d"
    assert ember.layers.deserialize({"class_name": "Dropout", "config": {"rate": 0.3}}).rate == 0.3
    with pytest.raises(ValueError, match="not a `keras.layers.Layer`"):
        ember.layers.deserialize(ember.saving.serialize_keras_object(ember.optimizers.SGD()))
