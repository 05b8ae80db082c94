"""The Layer base class and the symbolic tensors layers are called on.

A layer is a handle with Keras's names. Called on symbolic tensors (from
`Input`) it records the call, so a Model can later emit the graph into the
engine (`_emit`); called on an array it runs at once, eagerly, through a small
engine model of its own.
"""

import collections
import re

import numpy as np

from ember import _core, initializers
from ember.variables import Variable

_uids = collections.defaultdict(int)


def unique_name(prefix):
    """dense, dense_1, dense_2, ... as Keras names layers and models."""
    n = _uids[prefix]
    _uids[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def to_snake_case(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def standardize_shape(shape, what="shape"):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"Cannot interpret `{what}`: {shape!r}") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"`{what}` must have positive dimensions, got {shape}")
    return shape


class KerasTensor:
    """A symbolic tensor: a shape (batch axis None) and the layer call that made it."""

    def __init__(self, shape, dtype="float32", name=None, call=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self._call = call  # the _Call that produced this tensor (None for an Input's placeholder)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class _Call:
    """One application of a layer: its input and output symbolic tensors."""

    def __init__(self, layer, inputs, outputs):
        self.layer, self.inputs, self.outputs = layer, inputs, outputs


class Layer:
    """Base class of all layers.

    Subclasses set weights up in `build(input_shape)` with `add_weight`, state
    their output shape in `compute_output_shape`, and add their op(s) to an
    engine graph in `_emit(graph, input_nodes)`.
    """

    def __init__(self, *, name=None, trainable=True, dtype=None, autocast=True, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = (
            None if input_shape is None else standardize_shape(input_shape, "input_shape")
        )
        self._batch_size_arg = batch_size
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.built = False
        self._weights = []
        self._calls = []

    # -- weights -------------------------------------------------------------
    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None, trainable=True,
                   name=None, regularizer=None, constraint=None, **kwargs):
        shape = () if shape is None else tuple(int(d) for d in shape)
        value = np.asarray(initializers.get(initializer)(shape), dtype=np.float32)
        if value.shape != shape:
            raise ValueError(f"initializer returned shape {value.shape}, expected {shape}")
        name = name or f"variable_{len(self._weights)}"
        core = _core.Variable(name, value, bool(trainable and self._trainable))
        variable = Variable(core, f"{self.name}/{name}")
        variable._layer_trainable = bool(trainable)
        self._weights.append(variable)
        return variable

    @property
    def weights(self):
        return list(self._weights)

    @property
    def trainable_weights(self):
        return [w for w in self._weights if w.trainable] if self._trainable else []

    @property
    def non_trainable_weights(self):
        return [w for w in self._weights if not w.trainable or not self._trainable]

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for w in self._weights:
            w.trainable = self._trainable and w._layer_trainable

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        if len(weights) != len(self._weights):
            raise ValueError(
                f"Layer {self.name} expects {len(self._weights)} weights, "
                f"but received {len(weights)} weights."
            )
        for w, value in zip(self._weights, weights):
            value = np.asarray(value)
            if value.shape != w.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {w.shape} is not compatible with provided "
                    f"weight shape {value.shape}."
                )
        for w, value in zip(self._weights, weights):
            w.assign(value)

    def count_params(self):
        return int(sum(np.prod(w.shape, dtype=np.int64) for w in self._weights))

    # -- building and calling ------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def _emit(self, graph, input_nodes):
        raise NotImplementedError(f"{type(self).__name__} cannot run in the engine yet")

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True

    def __call__(self, inputs, training=None, **kwargs):
        if isinstance(inputs, KerasTensor):
            self._maybe_build(inputs.shape)
            out = KerasTensor(self.compute_output_shape(inputs.shape), name=self.name)
            call = _Call(self, [inputs], [out])
            out._call = call
            self._calls.append(call)
            return out
        return self._call_eagerly(inputs)

    def _call_eagerly(self, x):
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        if x.ndim == 0:
            raise ValueError(f"{self.name}: expected an input with a batch axis, got a scalar")
        self._maybe_build((None,) + x.shape[1:])
        graph = _core.Graph()
        node = graph.add_input(list(x.shape[1:]), "input")
        out = self._emit(graph, [node])
        return _core.Model(graph, [node], [out]).predict([x], max(len(x), 1))[0]

    # -- Keras's introspection ----------------------------------------------
    def _only_call(self, what):
        if not self._calls:
            raise AttributeError(f"Layer {self.name} has never been called and thus has no "
                                 f"defined {what}.")
        return self._calls[0]

    @property
    def input(self):
        call = self._only_call("input")
        return call.inputs[0] if len(call.inputs) == 1 else call.inputs

    @property
    def output(self):
        call = self._only_call("output")
        return call.outputs[0] if len(call.outputs) == 1 else call.outputs

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self._input_shape_arg is not None:
            config["batch_input_shape"] = (self._batch_size_arg,) + self._input_shape_arg
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        batch_input_shape = config.pop("batch_input_shape", None)
        config.pop("dtype", None)
        if batch_input_shape is not None:
            config["input_shape"] = tuple(batch_input_shape[1:])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
