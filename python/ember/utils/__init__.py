"""`ember.utils`: to_categorical, set_random_seed, Progbar, get_file, plot_model,
PyDataset (alias Sequence), the data helpers (pad_sequences,
timeseries_dataset_from_array, split_dataset, pack/unpack_x_y_sample_weight), and
Keras's aliases of the serialization registry and of a few backend functions."""

import importlib

from ember.backend import clear_session, is_keras_tensor
from ember.utils.data_adapter_utils import pack_x_y_sample_weight, unpack_x_y_sample_weight
from ember.utils.dataset_utils import split_dataset
from ember.utils.file_utils import get_file
from ember.utils.model_visualization import model_to_dot, plot_model
from ember.utils.numerical_utils import normalize, to_categorical
from ember.utils.progbar import Progbar
from ember.utils.py_dataset import PyDataset, Sequence
from ember.utils.rng_utils import set_random_seed
from ember.utils.sequence_utils import pad_sequences
from ember.utils.timeseries_dataset_utils import timeseries_dataset_from_array

__all__ = ["Progbar", "get_file", "model_to_dot", "normalize", "plot_model", "set_random_seed",
           "to_categorical"]
# streaming data (issue 11)
__all__ += ["PyDataset", "Sequence"]
# issue 17
__all__ += ["CustomObjectScope", "clear_session", "custom_object_scope",
            "deserialize_keras_object", "get_custom_objects", "get_registered_name",
            "get_registered_object", "get_source_inputs", "is_keras_tensor",
            "pack_x_y_sample_weight", "pad_sequences", "register_keras_serializable",
            "serialize_keras_object", "split_dataset", "timeseries_dataset_from_array",
            "unpack_x_y_sample_weight"]

# Keras's aliases of names that live in ember.saving and ember.models. Those packages import
# ember.utils themselves (the progress bar, PyDataset), so these are looked up on first use.
_ALIASES = {
    "CustomObjectScope": "ember.saving.object_registration",
    "custom_object_scope": "ember.saving.object_registration",
    "get_custom_objects": "ember.saving.object_registration",
    "get_registered_name": "ember.saving.object_registration",
    "get_registered_object": "ember.saving.object_registration",
    "register_keras_serializable": "ember.saving.object_registration",
    "deserialize_keras_object": "ember.saving.serialization_lib",
    "serialize_keras_object": "ember.saving.serialization_lib",
    "get_source_inputs": "ember.models.functional",
}


def __getattr__(name):
    module = _ALIASES.get(name)
    if module is None:
        raise AttributeError(f"module 'ember.utils' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_ALIASES))
