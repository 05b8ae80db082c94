"""The serialization registry (register_keras_serializable and friends) as Keras 3 has it:
a registered custom layer, activation, loss or metric loads without `custom_objects`,
and a registered layer travels through `.keras` files between ember and Keras."""

import ember
import numpy as np
import pytest
from ember import saving, utils


def _scale(lib):
    """The same registered custom layer, written against ember or Keras (`lib`)."""
    @lib.saving.register_keras_serializable(package="ember_tests", name="Scale")
    class Scale(lib.layers.Layer):
        def __init__(self, offset=0.0, **kwargs):
            super().__init__(**kwargs)
            self.offset = offset

        def build(self, input_shape):
            self.k = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="k")

        def call(self, x):
            return x * self.k + self.offset

        def get_config(self):
            return {**super().get_config(), "offset": self.offset}

    return Scale


@pytest.mark.parametrize("direction", ["ember_to_keras", "keras_to_ember"])
def test_a_registered_custom_layer_travels_between_ember_and_keras(direction, keras, rng,
                                                                   tmp_path):
    classes = {"ember": _scale(ember), "keras": _scale(keras)}
    libs = {"ember": ember, "keras": keras}
    src, dst = direction.split("_to_")
    K = libs[src]
    inp = K.Input((4,))
    h = classes[src](offset=0.5, name="scale")(inp)
    model = K.Model(inp, K.layers.Dense(3, name="out")(h))
    model.get_layer("scale").set_weights([rng.normal(0, 1, 4).astype(np.float32)])
    path = tmp_path / "registered.keras"
    model.save(path)
    loaded = libs[dst].models.load_model(path)  # no custom_objects: found by registered name
    layer = loaded.get_layer("scale")
    assert type(layer) is classes[dst] and layer.offset == 0.5
    x = rng.normal(0, 1, (6, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_registered_functions_load_without_custom_objects(ext, rng, tmp_path):
    @saving.register_keras_serializable(package="ember_tests")
    def soft_tanh(x):
        return ember.ops.tanh(x) * 0.5

    @saving.register_keras_serializable(package="ember_tests")
    def half_mse(y_true, y_pred):
        return ember.ops.mean(ember.ops.square(y_pred - y_true), axis=-1) * 0.5

    @saving.register_keras_serializable(package="ember_tests")
    def abs_error(y_true, y_pred):
        return ember.ops.mean(ember.ops.absolute(y_pred - y_true), axis=-1)

    inp = ember.Input((3,))
    model = ember.Model(inp, ember.layers.Dense(2, activation=soft_tanh)(inp))
    model.compile("sgd", loss=half_mse, metrics=[abs_error])
    path = tmp_path / f"functions{ext}"
    model.save(path)
    loaded = ember.models.load_model(path)
    assert loaded.layers[-1].activation is soft_tanh
    x = rng.normal(0, 1, (5, 3)).astype(np.float32)
    y = rng.normal(0, 1, (5, 2)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    ours = loaded.evaluate(x, y, return_dict=True, verbose=0)
    theirs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert set(ours) == {"loss", "abs_error"}
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-6)


def test_registry_functions_behave_as_keras(keras):
    class Plain:
        def get_config(self):
            return {}

    for lib in (ember, keras):
        registered = lib.saving.register_keras_serializable("pkg_a", "Thing")(Plain)
        assert registered is Plain
        assert lib.saving.get_registered_name(Plain) == "pkg_a>Thing"
        assert lib.saving.get_registered_object("pkg_a>Thing") is Plain
        assert lib.saving.get_custom_objects()["pkg_a>Thing"] is Plain
        assert lib.saving.get_registered_name(len) == "len"
        with lib.saving.custom_object_scope({"Other": dict}):
            assert lib.saving.get_registered_object("Other") is dict
        assert lib.saving.get_registered_object("Other") is None
        with pytest.raises(ValueError, match="get_config"):
            lib.saving.register_keras_serializable()(type("NoConfig", (), {}))
    config = saving.serialize_keras_object(Plain())
    assert config == keras.saving.serialize_keras_object(Plain())
    assert isinstance(saving.deserialize_keras_object(config), Plain)


def test_utils_has_keras_aliases_of_the_registry():
    for name in ("register_keras_serializable", "get_custom_objects", "custom_object_scope",
                 "CustomObjectScope", "get_registered_name", "get_registered_object",
                 "serialize_keras_object", "deserialize_keras_object"):
        assert getattr(utils, name) is getattr(saving, name), name
        assert name in dir(utils)
    with pytest.raises(AttributeError, match="no_such_name"):
        utils.no_such_name  # noqa: B018
