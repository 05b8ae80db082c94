"""Keras 3's `.keras` file: a zip archive (entries stored, not compressed) of

    metadata.json     {"keras_version", "date_saved"}
    config.json       the model's config (module, class_name, config, registered_name,
                      build_config, compile_config) as `serialize_keras_object` gives it
    model.weights.h5  the weights and optimizer state in Keras 3's weights layout
"""

import datetime
import io
import json
import zipfile

from ember.layers.layer import skip_weight_initialization
from ember.saving import file_utils, optimizer_state, serialization_lib, weights_h5

# The Keras release whose file layout ember writes and reads.
KERAS_VERSION = "3.15.1"
CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"


def config_and_metadata_json(model):
    config_json = json.dumps(serialization_lib.serialize_keras_object(model))
    metadata_json = json.dumps({
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    })
    return config_json, metadata_json


def weights_bytes(model):
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        weights_h5.write_weights(h5, model)
    return buffer.getvalue()


def save_model(model, filepath):
    config_json, metadata_json = config_and_metadata_json(model)
    with file_utils.atomic_path(filepath) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        with zf.open(METADATA_FILENAME, "w") as f:
            f.write(metadata_json.encode())
        with zf.open(CONFIG_FILENAME, "w") as f:
            f.write(config_json.encode())
        zf.writestr(WEIGHTS_FILENAME, weights_bytes(model))


def _read_member(zf, filepath, name):
    if name not in zf.namelist():
        raise ValueError(f"'{filepath}' is a zip archive but not a .keras model file: it has no "
                         f"{name} (entries: {zf.namelist()}).")
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise OSError(f"Cannot read {name} from '{filepath}': the archive is damaged ({e}).") \
            from None


def _open_weights(zf, filepath):
    import h5py

    data = _read_member(zf, filepath, WEIGHTS_FILENAME)
    file_utils.check_global_heaps(data, f"{filepath}'s {WEIGHTS_FILENAME}")
    try:
        return h5py.File(io.BytesIO(data), "r")
    except OSError as e:
        raise OSError(f"The {WEIGHTS_FILENAME} inside '{filepath}' is not a readable HDF5 file "
                      f"({e}).") from None


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    with file_utils.open_zip(filepath) as zf:
        try:
            config = json.loads(_read_member(zf, filepath, CONFIG_FILENAME))
        except json.JSONDecodeError as e:
            raise ValueError(f"The config.json inside '{filepath}' is not valid JSON: {e}") \
                from None
        if not compile:
            config["compile_config"] = None
        with _open_weights(zf, filepath) as h5:
            with skip_weight_initialization(file_utils.stored_values(h5)):
                model = serialization_lib.deserialize_keras_object(config, custom_objects,
                                                                   safe_mode=safe_mode)
            optimizer_values = weights_h5.read_weights(h5, model)
    if compile and getattr(model, "compiled", False):
        if optimizer_values is None:
            optimizer_state.warn_no_state(model, filepath)
        else:
            optimizer_state.restore_keras_optimizer_variables(model, optimizer_values)
    return model
