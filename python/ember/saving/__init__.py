"""`ember.saving`: Keras's files, both ways.

`model.save("m.keras")` / `model.save("m.h5")`, `model.save_weights("m.weights.h5")`,
`ember.models.load_model(path)` and `model.load_weights(path)` read and write the
files Keras 3 writes (and Keras 2's `.h5`), so a model moves between ember and
Keras in either direction. `register_keras_serializable` and `custom_objects`
make custom classes loadable, as in `keras.saving`.
"""

from ember.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from ember.saving.saving_api import load_model, load_weights, save_model, save_weights
from ember.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
           "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
           "load_weights", "register_keras_serializable", "save_model", "save_weights",
           "serialize_keras_object"]
