"""Keras 3's weights layout: the HDF5 file `save_weights` writes (`.weights.h5`)
and the `model.weights.h5` inside a `.keras` archive.

    vars/                       attrs name=<model name>   (the model's own variables: none)
    layers/<key>/vars/0, 1, ... attrs name=<layer name>   one group per layer
    optimizer/vars/0, 1, ...    attrs name=<optimizer>    iteration, learning_rate, slots

A layer's <key> is its class name in snake case, made unique in order of
`model.layers` ("dense", "dense_1", ...) — not the layer's name — so a file
fits any model of the same architecture. A nested model has its own `layers/`
group under its key. Variables are numbered in the order a layer's
`save_own_variables` writes them.
"""

import numpy as np

from ember.layers.layer import to_snake_case


def _class_key(layer):
    # Keras's class for a functional model is Functional; ember's is Model.
    from ember.saving.serialization_lib import keras_class_name
    if keras_class_name(layer) == "Functional":
        return "functional"
    return to_snake_case(type(layer).__name__)


def _layer_keys(layers):
    used = {}
    for layer in layers:
        base = _class_key(layer)
        if base in used:
            used[base] += 1
            yield f"{base}_{used[base]}", layer
        else:
            used[base] = 0
            yield base, layer


def _sublayers(layer):
    from ember.models.model import Model
    return layer.layers if isinstance(layer, Model) else []


def _children(layer):
    # Objects a layer saves under keys of its own group, as Keras 3 saves the objects a layer
    # tracks as attributes (issue 11: an RNN's `cell`, Bidirectional's `forward_layer` and
    # `backward_layer`, TimeDistributed's `layer`): [(key, object)] from `_saved_children()`.
    saved_children = getattr(layer, "_saved_children", None)
    return saved_children() if saved_children is not None else []


class _WriteStore:
    """The dict-like store `save_own_variables` writes into; its group is created
    up front, as Keras creates it for every object that has a name."""

    def __init__(self, h5, path, name):
        self.group = h5.create_group(f"{path}/vars" if path else "vars")
        self.group.attrs["name"] = name

    def __setitem__(self, key, value):
        self.group[key] = np.asarray(value)

    def keys(self):
        return list(self.group.keys())

    def __len__(self):
        return len(self.group)


class _ReadStore:
    """The store `load_own_variables` reads from (empty when the file lacks the group)."""

    def __init__(self, group, path):
        self.group, self.path = group, path

    def keys(self):
        return list(self.group.keys()) if self.group is not None else []

    def __len__(self):
        return len(self.keys())

    def __getitem__(self, key):
        if self.group is None or key not in self.group:
            raise ValueError(f"The weights file has no variable '{key}' under '{self.path}'.")
        return np.asarray(self.group[key])


def _write_object(h5, path, layer):
    store = _WriteStore(h5, path, layer.name)
    layer.save_own_variables(store)
    for key, child in _children(layer):
        _write_object(h5, f"{path}/{key}", child)
    _write_layers(h5, f"{path}/layers" if path else "layers", _sublayers(layer))


def _write_layers(h5, path, layers):
    for key, layer in _layer_keys(layers):
        _write_object(h5, f"{path}/{key}", layer)


def write_weights(h5, model, include_optimizer=True):
    """Writes the model's weights (and its optimizer's state) into an open h5py file."""
    from ember.saving import optimizer_state

    _write_object(h5, "", model)
    variables = optimizer_state.keras_optimizer_variables(model) if include_optimizer else None
    if variables is not None:
        store = _WriteStore(h5, "optimizer", model.optimizer.name)
        for i, (_, value) in enumerate(variables):
            store[str(i)] = value


def _group(h5, path):
    group = h5.get(path)
    if group is None:
        return None
    return group.get("vars")


def _read_object(h5, path, layer, layers_key, skip_mismatch, failures):
    store = _ReadStore(_group(h5, path) if path else h5.get("vars"), path or "vars")
    try:
        layer.load_own_variables(store)
    except ValueError as e:
        if not skip_mismatch:
            raise
        failures.append(f"{layer.name}: {e}")
    for key, child in _children(layer):
        _read_object(h5, f"{path}/{key}", child, layers_key, skip_mismatch, failures)
    sub = f"{path}/{layers_key}" if path else layers_key
    for key, child in _layer_keys(_sublayers(layer)):
        _read_object(h5, f"{sub}/{key}", child, layers_key, skip_mismatch, failures)


def read_weights(h5, model, skip_mismatch=False):
    """Loads the model's weights from an open h5py file; returns the optimizer's saved
    variables (in Keras's order), or None when the file holds none. A layer whose
    variables do not fit raises a ValueError naming the layer and both shapes (with
    `skip_mismatch=True`, a warning, and the layer keeps its weights)."""
    import warnings

    # Files from Keras 2.13 name the layer container "_layer_checkpoint_dependencies".
    layers_key = "layers" if "layers" in h5 or "_layer_checkpoint_dependencies" not in h5 \
        else "_layer_checkpoint_dependencies"
    failures = []
    _read_object(h5, "", model, layers_key, skip_mismatch, failures)
    if failures:
        warnings.warn("Skipped loading the weights of layers that do not fit the file:\n"
                      + "\n".join(failures), stacklevel=3)
    group = _group(h5, "optimizer")
    if group is None:
        return None
    keys = sorted(group.keys(), key=int)
    return [np.asarray(group[k]) for k in keys]
