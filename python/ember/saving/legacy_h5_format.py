"""Keras's legacy HDF5 model file (`model.save("m.h5")`), as Keras 3 writes it and
as Keras 2 / tf.keras wrote it (Keras 2's `hdf5_format.save_model_to_hdf5`):

    attrs  keras_version, backend
           model_config     JSON {"class_name", "config"}; layers as {"class_name", "config"}
           training_config  JSON: compile's loss, metrics, loss_weights, ... and
                            "optimizer_config": {"class_name", "config"}
    model_weights/          attrs layer_names, backend, keras_version
        <layer name>/       attrs weight_names; one dataset per name (a name with "/"
                            nests groups: "dense/kernel:0" in Keras 2,
                            "sequential/dense/kernel" in Keras 3)
        top_level_model_weights/   (Keras 3) the model's own weights: none
    optimizer_weights/      attrs weight_names; the optimizer's variables, in order

Weights load by position: the layers that have weights, in `model.layers` order,
each in trainable-then-non-trainable order. A list attribute larger than HDF5's
object header limit is split into `name0`, `name1`, ... as Keras splits it.
"""

import json
import warnings

import numpy as np

from ember.layers.layer import skip_weight_initialization
from ember.saving import file_utils, optimizer_state, serialization_lib
from ember.saving.keras_zip_format import KERAS_VERSION
from ember.saving.object_registration import get_registered_name

HDF5_OBJECT_HEADER_LIMIT = 64512


# -- attributes --------------------------------------------------------------------
def save_attributes_to_hdf5_group(group, name, data):
    """Stores a list attribute, split into `name0`, `name1`, ... when it would not fit
    an HDF5 object header."""
    too_big = [x for x in data if len(x) > HDF5_OBJECT_HEADER_LIMIT]
    if too_big:
        raise RuntimeError(f"The following attributes cannot be saved to HDF5 file because they "
                           f"are larger than {HDF5_OBJECT_HEADER_LIMIT} bytes: {too_big}")
    as_array = np.asarray(data)
    chunks = 1
    split = np.array_split(as_array, chunks)
    while any(x.nbytes > HDF5_OBJECT_HEADER_LIMIT for x in split):
        chunks += 1
        split = np.array_split(as_array, chunks)
    if chunks > 1:
        for i, chunk in enumerate(split):
            group.attrs[f"{name}{i}"] = chunk
    else:
        group.attrs[name] = data


def load_attributes_from_hdf5_group(group, name):
    def decode(values):
        return [v.decode("utf8") if hasattr(v, "decode") else v for v in values]

    if name in group.attrs:
        return decode(group.attrs[name])
    data, i = [], 0
    while f"{name}{i}" in group.attrs:
        data.extend(decode(group.attrs[f"{name}{i}"]))
        i += 1
    return data


def _decode_json(value):
    if hasattr(value, "decode"):
        value = value.decode("utf-8")

    def tuples(obj):  # Keras's json_utils encodes tuples as {"class_name": "__tuple__", ...}
        if obj.get("class_name") == "__tuple__" and "items" in obj:
            return tuple(obj["items"])
        return obj

    return json.loads(value, object_hook=tuples)


# -- weights -----------------------------------------------------------------------
def _legacy_weights(layer):
    return layer.trainable_weights + layer.non_trainable_weights


def _save_weights(group, weights, model):
    names = [optimizer_state.keras_variable_path(model, w).encode("utf8") for w in weights]
    save_attributes_to_hdf5_group(group, "weight_names", names)
    for name, w in zip(names, weights):
        value = w.numpy()
        group.create_dataset(name, value.shape, dtype=value.dtype)[()] = value


def save_weights_to_hdf5_group(group, model):
    save_attributes_to_hdf5_group(group, "layer_names",
                                  [layer.name.encode("utf8") for layer in model.layers])
    group.attrs["backend"] = b"ember"
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    # Sorted, so that group names grow strictly and none is a prefix issue for HDF5.
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        _save_weights(group.create_group(layer.name), _legacy_weights(layer), model)
    _save_weights(group.create_group("top_level_model_weights"), [], model)


def _check_and_collect(group, model, skip_mismatch):
    """[(variable, value)] for every weight, in file order; raises (or with
    skip_mismatch, warns) naming the layer and both shapes on a mismatch."""
    layers = [layer for layer in model.layers if _legacy_weights(layer)]
    names = [name for name in load_attributes_from_hdf5_group(group, "layer_names")
             if load_attributes_from_hdf5_group(group[name], "weight_names")]
    if len(names) != len(layers):
        raise ValueError(f"Layer count mismatch when loading weights from file. Model expected "
                         f"{len(layers)} layers with weights, found {len(names)} saved layers "
                         f"with weights ({names}).")
    pairs = []
    for k, (name, layer) in enumerate(zip(names, layers)):
        saved = group[name]
        values = [np.asarray(saved[w]) for w in load_attributes_from_hdf5_group(saved,
                                                                               "weight_names")]
        variables = _legacy_weights(layer)
        if len(values) != len(variables):
            raise ValueError(f"Weight count mismatch for layer #{k} (named {layer.name} in the "
                             f"current model, {name} in the save file). Layer expects "
                             f"{len(variables)} weight(s). Received {len(values)} saved weight(s)")
        for w, value in zip(variables, values):
            if value.shape != w.shape:
                message = (f"Layer '{layer.name}' (saved as '{name}'): weight '{w.name}' has "
                           f"shape {w.shape} in the model, but the saved weight has shape "
                           f"{value.shape}.")
                if not skip_mismatch:
                    raise ValueError(message)
                warnings.warn("Skipping loading weights: " + message, stacklevel=4)
                continue
            pairs.append((w, value))
    return pairs


def load_weights_from_hdf5_group(group, model, skip_mismatch=False):
    """Loads by position; nothing is assigned unless every weight fits."""
    for w, value in _check_and_collect(group, model, skip_mismatch):
        w.assign(value)


def load_weights_from_hdf5_group_by_name(group, model, skip_mismatch=False):
    """Loads into the layers whose names match a saved layer; others are left alone."""
    by_name = {layer.name: layer for layer in model.layers}
    pairs = []
    for name in load_attributes_from_hdf5_group(group, "layer_names"):
        layer = by_name.get(name)
        if layer is None:
            continue
        saved = group[name]
        values = [np.asarray(saved[w]) for w in load_attributes_from_hdf5_group(saved,
                                                                               "weight_names")]
        variables = _legacy_weights(layer)
        problem = None
        if len(values) != len(variables):
            problem = (f"Layer '{name}' expects {len(variables)} weight(s); the file has "
                       f"{len(values)}.")
        else:
            for w, value in zip(variables, values):
                if value.shape != w.shape:
                    problem = (f"Layer '{name}': weight '{w.name}' has shape {w.shape} in the "
                               f"model, but the saved weight has shape {value.shape}.")
        if problem is not None:
            if not skip_mismatch:
                raise ValueError(problem)
            warnings.warn("Skipping loading weights: " + problem, stacklevel=3)
            continue
        pairs.extend(zip(variables, values))
    for w, value in pairs:
        w.assign(value)


# -- compile arguments ---------------------------------------------------------------
def _legacy_value(obj):
    """compile arguments as the legacy format serializes them: names stay strings,
    functions become their names, objects `{"class_name", "config"}`."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, dict):
        return {k: _legacy_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_legacy_value(v) for v in obj]
    if hasattr(obj, "get_config"):
        return {"class_name": get_registered_name(type(obj)), "config": obj.get_config()}
    return get_registered_name(obj)


def model_metadata(model, include_optimizer=True):
    with serialization_lib.legacy_config_scope():
        metadata = {
            "keras_version": KERAS_VERSION,
            "backend": "ember",
            "model_config": {"class_name": serialization_lib.keras_class_name(model),
                             "config": model.get_config()},
        }
    if include_optimizer and getattr(model, "optimizer", None) is not None and model.compiled:
        cc = model._compile_config
        training_config = _legacy_value({
            "loss": cc.get("loss"), "loss_weights": cc.get("loss_weights"),
            "metrics": cc.get("metrics"), "weighted_metrics": cc.get("weighted_metrics"),
            "run_eagerly": cc.get("run_eagerly", False),
            "steps_per_execution": cc.get("steps_per_execution", 1),
            "jit_compile": cc.get("jit_compile", "auto"),
        })
        training_config["optimizer_config"] = {
            "class_name": get_registered_name(type(model.optimizer)),
            "config": serialization_lib.serialize_dict(model.optimizer.get_config()),
        }
        metadata["training_config"] = training_config
    return metadata


# Keras 2 optimizer arguments Keras 3 has no counterpart for.
_KERAS2_OPTIMIZER_ARGS = ("jit_compile", "is_legacy_optimizer")


def _deserialize_optimizer(config, custom_objects):
    from ember import optimizers

    config = {"class_name": config["class_name"], "config": dict(config.get("config") or {}),
              **{k: v for k, v in config.items() if k not in ("class_name", "config")}}
    inner = config["config"]
    for key in _KERAS2_OPTIMIZER_ARGS:
        inner.pop(key, None)
    decay = inner.pop("decay", None)
    if decay:
        warnings.warn(f"The saved optimizer has decay={decay}, which Keras 3 (and ember) no "
                      "longer support; it is ignored.", stacklevel=4)
    deserialize = getattr(optimizers, "deserialize", None)
    if deserialize is not None:
        return deserialize(config, custom_objects=custom_objects)
    namespace = {k: v for k, v in vars(optimizers).items() if isinstance(v, type)}
    namespace.update({k.lower(): v for k, v in list(namespace.items())})
    if config["class_name"].lower() in namespace and config["class_name"] not in namespace:
        config["class_name"] = config["class_name"].lower()
    return serialization_lib.deserialize_keras_object(config, custom_objects,
                                                      module_objects=namespace)


_SPECIAL_METRICS = ("accuracy", "acc", "crossentropy", "ce")


def _deserialize_metric(config, custom_objects):
    from ember import metrics

    if isinstance(config, str):
        return config
    if isinstance(config, dict) and config.get("class_name") == "MeanMetricWrapper":
        # Keras 2 wrote compiled metrics as wrappers of a function; its name ("mae",
        # "accuracy") is what compile understood.
        inner = config.get("config") or {}
        for candidate in (inner.get("name"), inner.get("fn")):
            if candidate in _SPECIAL_METRICS or candidate in getattr(metrics, "_FUNCTIONS", {}):
                return candidate
        return inner.get("fn")
    return serialization_lib.deserialize_keras_object(config, custom_objects,
                                                      module_objects=vars(metrics))


def _nested(fn, config, custom_objects):
    if config is None:
        return None
    if isinstance(config, str) or (isinstance(config, dict) and "class_name" in config):
        return fn(config, custom_objects)
    if isinstance(config, dict):
        return {k: _nested(fn, v, custom_objects) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [_nested(fn, v, custom_objects) for v in config]
    raise ValueError(f"Saved training configuration not understood: {config!r}")


def _deserialize_loss(config, custom_objects):
    from ember import losses

    if isinstance(config, str):  # a name compile understands, or a custom object's name
        return serialization_lib.deserialize_keras_object(config, custom_objects)
    config = dict(config)
    inner = dict(config.get("config") or {})
    if inner.get("reduction") == "auto":  # Keras 2's default reduction
        inner["reduction"] = "sum_over_batch_size"
    config["config"] = inner
    return serialization_lib.deserialize_keras_object(config, custom_objects,
                                                      module_objects=vars(losses))


def _unwrap_single_output(metrics, model):
    # Keras 2 saved compiled metrics per output ([[...]]); one output's list is the list.
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list) \
            and len(model.outputs) == 1:
        return metrics[0]
    return metrics


def compile_args_from_training_config(training_config, model, custom_objects=None):
    metrics = _nested(_deserialize_metric, training_config.get("metrics"), custom_objects)
    weighted = training_config.get("weighted_metrics")
    if weighted:
        raise NotImplementedError("The file was compiled with weighted_metrics, which ember "
                                  "does not support yet.")
    return {
        "optimizer": _deserialize_optimizer(training_config["optimizer_config"], custom_objects),
        "loss": _nested(_deserialize_loss, training_config.get("loss"), custom_objects),
        "metrics": _unwrap_single_output(metrics, model),
        "loss_weights": training_config.get("loss_weights"),
    }


# -- the whole model -----------------------------------------------------------------
def save_model_to_hdf5(model, filepath, include_optimizer=True):
    import h5py

    metadata = model_metadata(model, include_optimizer)
    optimizer_variables = (optimizer_state.keras_optimizer_variables(model)
                           if include_optimizer and "training_config" in metadata else None)
    with file_utils.atomic_path(filepath, create_folder=True) as tmp, h5py.File(tmp, "w") as f:
        for key, value in metadata.items():
            if isinstance(value, (dict, list, tuple)):
                f.attrs[key] = json.dumps(value).encode("utf8")
            else:
                f.attrs[key] = value
        save_weights_to_hdf5_group(f.create_group("model_weights"), model)
        if optimizer_variables:
            group = f.create_group("optimizer_weights")
            names = [name.encode("utf8") for name, _ in optimizer_variables]
            save_attributes_to_hdf5_group(group, "weight_names", names)
            for name, (_, value) in zip(names, optimizer_variables):
                group.create_dataset(name, value.shape, dtype=value.dtype)[()] = value


def load_model_from_hdf5(filepath, custom_objects=None, compile=True, safe_mode=True):
    with file_utils.open_h5(filepath, "a Keras .h5 model") as f:
        model_config = f.attrs.get("model_config")
        if model_config is None:
            raise ValueError(f"No model config found in the file at {filepath}. (A file written "
                             "by `save_weights` holds weights only: build the model and call "
                             "`model.load_weights(path)`.)")
        model_config = _decode_json(model_config)
        if "model_weights" not in f:
            raise ValueError(f"The file at {filepath} has a model config but no model_weights.")
        with skip_weight_initialization(file_utils.stored_values(f["model_weights"])):
            model = serialization_lib.deserialize_layer(model_config, custom_objects)
        load_weights_from_hdf5_group(f["model_weights"], model)
        if not compile:
            return model
        training_config = f.attrs.get("training_config")
        if training_config is None:
            warnings.warn("No training configuration found in the save file, so the model was "
                          "*not* compiled. Compile it manually.", stacklevel=3)
            return model
        model.compile(**compile_args_from_training_config(_decode_json(training_config), model,
                                                          custom_objects))
        if "optimizer_weights" in f:
            group = f["optimizer_weights"]
            values = [np.asarray(group[name])
                      for name in load_attributes_from_hdf5_group(group, "weight_names")]
            optimizer_state.restore_keras_optimizer_variables(model, values)
        else:
            optimizer_state.warn_no_state(model, filepath)
    return model
