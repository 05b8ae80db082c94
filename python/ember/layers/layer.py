"""The Layer base class and the symbolic tensors layers are called on.

A layer is a handle with Keras's names. Called on symbolic tensors (from
`Input`) it records the call, so a Model can later emit the graph into the
engine (`_emit`); called on an array it runs at once, eagerly, through a small
engine model of its own.
"""

import collections
import contextlib
import json
import math
import re
import warnings

import numpy as np

from ember import _core, _ops, constraints, initializers, ops, regularizers
from ember.layers.input_spec import assert_input_compatibility
from ember.variables import Variable

_uids = collections.defaultdict(int)

# Keras's config of the float32 dtype policy, as every layer config carries it.
DTYPE_POLICY_CONFIG = {"module": "keras", "class_name": "DTypePolicy",
                       "config": {"name": "float32"}, "registered_name": None}

_skip_initializers = [False]


# While loading: how many more weight values the file can fill (None: unbounded).
_load_budget = [None]


@contextlib.contextmanager
def skip_weight_initialization(stored_values=None):
    """Inside, `add_weight` fills new weights with zeros instead of running their
    initializers: loading builds a model whose weights the file overwrites, and
    must not draw from the global random generator that shuffling uses. Anything
    else drawn meanwhile (a Dropout layer's seed) comes from a copy of that
    generator, so the global stream is read but not advanced.

    `stored_values`: how many values the file being loaded holds. A weight its config
    asks for beyond them could never be filled from it (a damaged `units`), so it
    raises ValueError before anything is allocated."""
    import copy

    from ember import random as _random

    global_generator = _random._generator
    _random._generator = copy.deepcopy(global_generator)
    _skip_initializers.append(True)
    _load_budget.append(None if stored_values is None else [int(stored_values)])
    try:
        yield
    finally:
        _skip_initializers.pop()
        _load_budget.pop()
        _random._generator = global_generator


# dtype policies whose numbers ember's float32 engine reproduces only to their rounding.
_FLOAT_POLICIES = {"float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"}


def check_dtype_policy(dtype, layer):
    """A layer's `dtype` (a name or Keras's DTypePolicy config): ember computes in
    float32, so another float policy warns that results differ by its rounding, and
    a policy that is not a float one (int8, quantized weights) raises ValueError."""
    name = dtype
    if isinstance(dtype, dict):
        inner = dtype.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
        if not isinstance(name, str):
            raise ValueError(f"Layer '{layer}': cannot read its dtype policy {dtype!r}.")
    if name is None or name == "float32":
        return
    if not isinstance(name, str):
        name = getattr(name, "name", None) or str(name)
    if name in _FLOAT_POLICIES:
        warnings.warn(f"Layer '{layer}' has dtype policy '{name}'; ember computes in float32, so "
                      "its results differ from Keras's by that policy's rounding.", stacklevel=4)
        return
    raise ValueError(f"Layer '{layer}' has dtype policy '{name}'; ember computes in float32 "
                     "only and cannot reproduce it.")


def unique_name(prefix):
    """dense, dense_1, dense_2, ... as Keras names layers and models."""
    n = _uids[prefix]
    _uids[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def to_snake_case(name):
    """Keras's naming.to_snake_case: "AUC" -> "auc", "TopKCategoricalAccuracy" ->
    "top_k_categorical_accuracy"."""
    name = re.sub(r"\W+", "", name)
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
        self._keras_mask = None  # Keras's symbolic mask: a bool KerasTensor, or None

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class _Call:
    """One application of a layer: its input and output symbolic tensors, and the keyword
    arguments of the call that change what it computes (Attention's `use_causal_mask`),
    which the layer's `_emit` receives and a model's config stores, as Keras's nodes do."""

    def __init__(self, layer, inputs, outputs, kwargs=None):
        self.layer, self.inputs, self.outputs = layer, inputs, outputs
        self.kwargs = dict(kwargs or {})


# Integer inputs (issue 11): every integer dtype an `Input` may declare is held as int32 bit
# patterns in the engine's float32 buffers.
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def is_int_dtype(dtype):
    return str(dtype) in INT_DTYPES


def _json_value(value):
    """What json.dumps cannot write itself in a layer config: NumPy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)  # read by no builder (it would name the key it cannot read)


def _config_json(config):
    """A layer config as JSON. JSON has no inf or NaN: an infinite bound (ReLU's max_value)
    means none, as null does."""
    try:
        return json.dumps(config, default=_json_value, allow_nan=False)
    except ValueError:
        def finite(value):
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: finite(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [finite(v) for v in value]
            return value
        return json.dumps(finite(config), default=_json_value)


# Spreads apart the random streams of one layer's eager training calls (the engine spreads its
# calls within a graph apart the same way: LayerBuildOptions::seed).
_GOLDEN = 0x9E3779B97F4A7C15


def engine_build_layer(layer, graph, input_nodes, dtypes=None, mask_nodes=None):
    """Adds one call of a built-in layer through the engine's build_layer, the one mapping
    from a Keras config to ops (cpp/include/ember/layer_builder.h), which also casts int32
    ids and carries the masks. Returns (output nodes, whether the layer returned a list,
    mask node per output).

    A custom activation function (and an activity regularizer after it) stays in Python:
    the engine builds the layer with a linear activation and the function's ember.ops are
    recorded on top."""
    from ember import activations

    config = layer._engine_config()
    custom_activation = None
    if "activation" in config and not activations.is_builtin(layer.activation):
        custom_activation = layer.activation
        config = {**config, "activation": "linear", "activity_regularizer": None}
    n = len(input_nodes)
    masks = [-1 if m is None else m for m in (mask_nodes or [None] * n)]
    ids = [is_int_dtype(d) for d in (dtypes or ["float32"] * n)]
    seed = getattr(layer, "_seed", None)
    if seed is not None:
        seed = (seed + (getattr(layer, "_eager_draws", 0) << 32) * _GOLDEN) % 2**64
    outs, out_masks, multi = _core.build_layer(
        graph, layer._engine_class, _config_json(config),
        [w._core for w in layer._engine_weights()], list(input_nodes), masks, ids, "null",
        getattr(layer, "_trainable_flag", None), seed)
    out_masks = [None if m < 0 else m for m in out_masks]
    if custom_activation is not None:
        from ember.activations import emit
        from ember.regularizers import engine_factors

        name = layer.name if layer._engine_class == "Activation" else f"{layer.name}/activation"
        outs[0] = emit(graph, outs[0], custom_activation, name)
        if getattr(layer, "activity_regularizer", None) is not None:
            l1, l2 = engine_factors(layer.activity_regularizer, layer.name)
            outs[0] = _core.add_activity_regularization(graph, outs[0], l1, l2,
                                                        f"{layer.name}/activity_regularizer")
    return outs, multi, out_masks


def emit_layer_call(layer, graph, input_nodes, dtypes=None, mask_nodes=None, casts=None,
                    call_kwargs=None):
    """Adds one call of `layer` to an engine graph: the one code path every emitter takes
    (a functional model, a nested model, a layer called on arrays).

    dtypes: per input node, "int32" when it holds int32 bit patterns (an integer `Input`),
    else float. An input the layer does not read as ids (`_wanted_input_dtype`) gets a Cast
    first, and float values fed to an ids input (Embedding on a float input) are cast to int32
    by truncation, as Keras casts them; `casts` caches them by (node, direction).
    mask_nodes: per input node its Keras mask (a float node, 1 keep, 0 masked) or None;
    layers with `_consumes_mask` receive them.
    call_kwargs: the call's keyword arguments (_Call.kwargs), passed on to `_emit`.
    Returns (output nodes, whether the layer returned a list, mask node per output)."""
    if layer._builds_in_engine(**(call_kwargs or {})):
        return engine_build_layer(layer, graph, input_nodes, dtypes, mask_nodes)
    n = len(input_nodes)
    extra = dict(call_kwargs or {})
    dtypes = list(dtypes) if dtypes is not None else ["float32"] * n
    masks = list(mask_nodes) if mask_nodes is not None else [None] * n
    casts = {} if casts is None else casts
    nodes = []
    for i, (node, dtype) in enumerate(zip(input_nodes, dtypes)):
        wanted = layer._wanted_input_dtype(i, **extra) if extra else layer._wanted_input_dtype(i)
        have_ids, want_ids = is_int_dtype(dtype), is_int_dtype(wanted)
        if have_ids != want_ids:
            key = (node, want_ids)
            if key not in casts:
                what = "cast_to_int32" if want_ids else "cast_to_float"
                casts[key] = _core.add_cast(graph, node, want_ids, f"{layer.name}/{what}")
            node = casts[key]
        nodes.append(node)
    if layer._consumes_mask:
        out = layer._emit(graph, nodes, mask_nodes=masks, **extra)
    else:
        out = layer._emit(graph, nodes, **extra)
    outs = out if isinstance(out, list) else [out]
    out_masks = layer._emit_mask(graph, nodes, masks, **extra)
    if not isinstance(out_masks, list):
        out_masks = [out_masks] + [None] * (len(outs) - 1)
    return outs, isinstance(out, list), out_masks


def weight_options_config(layer, *weights):
    """The `<weight>_initializer`, `_regularizer` and `_constraint` entries of a layer's
    config for each named weight ("kernel", "bias", ...), serialized as Keras writes them."""
    config = {}
    for w in weights:
        config[f"{w}_initializer"] = initializers.serialize(getattr(layer, f"{w}_initializer"))
        config[f"{w}_regularizer"] = regularizers.serialize(getattr(layer, f"{w}_regularizer"))
        config[f"{w}_constraint"] = constraints.serialize(getattr(layer, f"{w}_constraint"))
    return config


def deserialize_config_objects(config, keys, module):
    """For from_config: each entry of `config` under `keys` that is a serialized object (a
    dict) becomes the object, looked up in `module` (initializers, regularizers, ...)."""
    from ember.saving import serialization_lib

    for key in keys:
        if isinstance(config.get(key), dict):
            config[key] = serialization_lib.deserialize_keras_object(
                config[key], module_objects=vars(module))


class Layer:
    """Base class of all layers.

    Subclasses set weights up in `build(input_shape)` with `add_weight` and state
    their output shape in `compute_output_shape`. A built-in layer names its Keras class
    in `_engine_class`: the engine builds its ops from `get_config()` and its weights
    (`_core.build_layer`, the one mapping from a Keras config to ops, which the C++ model
    loader uses too), casts and masks included. A layer with a `call()` has it recorded op
    by op; a layer may instead override `_emit(graph, input_nodes)`.

    Masks (issue 11), as Keras has them (for built-in layers the engine's builders make
    and pass the mask nodes; what follows is the protocol for the others):
    `supports_masking` says a layer passes its input's mask on unchanged (the default
    `compute_mask` / `_emit_mask`). A layer that
    makes or changes a mask overrides `compute_mask` (Keras's API, on symbolic tensors or
    arrays) and `_emit_mask(graph, input_nodes, mask_nodes)`, which returns the output's
    mask node (or a list aligned with a multi-output layer's outputs; a single value then
    belongs to the first output). A layer that reads masks sets `_consumes_mask = True`
    and takes them as `_emit(graph, input_nodes, mask_nodes=None)`: a list aligned with
    the input nodes, None where an input has no mask. A mask node is a float value of the
    input's row shape without its last axis: 1.0 keep, 0.0 masked.
    """

    supports_masking = False
    _consumes_mask = False
    input_spec = None  # an InputSpec (or a list of them) each call's inputs are checked against
    # The Keras class the engine builds this layer as, from its get_config()
    # (engine_build_layer): set by the built-in layers. None: a layer whose call() Python
    # records op by op.
    _engine_class = None

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
        if name is not None and (not isinstance(name, str) or "/" in name):
            # Keras's Operation: a bad name from a file would reach the engine otherwise.
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name!r} (of type {type(name)})")
        check_dtype_policy(dtype, name or type(self).__name__)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.built = False
        self._weights = []
        self._calls = []

    # -- weights -------------------------------------------------------------
    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None, trainable=True,
                   name=None, regularizer=None, constraint=None, **kwargs):
        shape = () if shape is None else tuple(int(d) for d in shape)
        budget = _load_budget[-1]
        if budget is not None:
            size = math.prod(shape)  # Python ints: no overflow
            if size > budget[0]:
                raise ValueError(
                    f"Layer '{self.name}': its config asks for a weight of shape {shape} "
                    f"({size} values), but the file holds only {budget[0]} more values: the "
                    "config does not match the weights saved with it.")
            budget[0] -= size
        if _skip_initializers[-1]:
            value = np.zeros(shape, np.float32)
        else:
            value = np.asarray(initializers.get(initializer)(shape), dtype=np.float32)
        if value.shape != shape:
            raise ValueError(f"initializer returned shape {value.shape}, expected {shape}")
        name = name or f"variable_{len(self._weights)}"
        core = _core.Variable(name, value, bool(trainable and self._trainable))
        variable = Variable(core, f"{self.name}/{name}")
        variable._layer_trainable = bool(trainable)
        variable.regularizer = regularizers.get(regularizer)
        if variable.regularizer is not None:
            # A regularizer of your own comes back as a graph the model runs each step.
            variable._penalty_graph = regularizers.set_weight_regularization(
                core, variable.regularizer, f"{self.name}/{name}")
        variable.constraint = constraints.get(constraint)
        spec = constraints.engine_spec(variable.constraint)
        if spec is not None:  # the built-in ones run in the engine; others from Python
            _core.set_constraint(core, *spec)
        self._weights.append(variable)
        return variable

    def __setattr__(self, name, value):
        # Layers kept as attributes (a custom layer's sub-layers) are tracked, as Keras
        # tracks them: their weights count among this layer's.
        if name.startswith("_"):
            pass  # ember's own bookkeeping (a model's `_layers`) is not a sub-layer
        elif isinstance(value, Layer) or (isinstance(value, (list, tuple)) and value
                                          and all(isinstance(v, Layer) for v in value)):
            subs = self.__dict__.setdefault("_sublayers", {})
            subs[name] = list(value) if isinstance(value, (list, tuple)) else [value]
        elif name in self.__dict__.get("_sublayers", {}):
            del self.__dict__["_sublayers"][name]
        super().__setattr__(name, value)

    def _tracked_sublayers(self):
        seen, out = set(), []
        for layers in self.__dict__.get("_sublayers", {}).values():
            for layer in layers:
                if id(layer) not in seen and layer is not self:
                    seen.add(id(layer))
                    out.append(layer)
        return out

    def _all_weights(self):
        """Own weights, then the tracked sub-layers' (each once)."""
        out, seen = list(self._weights), {id(w) for w in self._weights}
        for layer in self._tracked_sublayers():
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def weights(self):
        return self._all_weights()

    @property
    def trainable_weights(self):
        return [w for w in self._all_weights() if w.trainable] if self._trainable else []

    @property
    def non_trainable_weights(self):
        return [w for w in self._all_weights() if not w.trainable or not self._trainable]

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
        for layer in self._tracked_sublayers():
            layer.trainable = value

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        mine = self._all_weights()
        if len(weights) != len(mine):
            raise ValueError(
                f"Layer {self.name} expects {len(mine)} weights, "
                f"but received {len(weights)} weights."
            )
        for w, value in zip(mine, weights):
            value = np.asarray(value)
            if value.shape != w.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {w.shape} is not compatible with provided "
                    f"weight shape {value.shape}."
                )
        for w, value in zip(mine, weights):
            w.assign(value)

    def count_params(self):
        return int(sum(np.prod(w.shape, dtype=np.int64) for w in self._all_weights()))

    # -- building and calling ------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, inputs, *args, **kwargs):
        """Subclasses write the layer's computation here with `ember.ops`; it runs once,
        while ember builds the engine graph, and records ops into it."""
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `call()` method "
                                  "implemented.")

    def _has_custom_call(self):
        return type(self).call is not Layer.call

    def compute_output_shape(self, input_shape):
        if self._has_custom_call():
            return self._traced_output_shape(input_shape)
        return input_shape

    def _traced_output_shape(self, input_shape):
        """The output shape(s) of call(), found by recording it into a scratch graph."""
        multi = isinstance(input_shape, list)
        shapes = input_shape if multi else [input_shape]
        for shape in shapes:
            if any(d is None for d in shape[1:]):
                raise ValueError(f"Layer {self.name}: ember needs every axis but the batch axis "
                                 f"to be known to run call(), got input shape {shape}")
        graph, _, outs, multi_out = self._scratch_graph([shape[1:] for shape in shapes])
        result = [(None,) + tuple(graph.row_shape(n)) for n in outs]
        return result if multi_out else result[0]

    def _scratch_graph(self, row_shapes, dtypes=None):
        """A graph of this layer alone on inputs of these row shapes (and dtypes: "int32"
        for int32 ids): (graph, input nodes, output nodes, whether call() returned a list)."""
        graph = _core.Graph()
        nodes = [graph.add_input(list(row), f"input_{i}") for i, row in enumerate(row_shapes)]
        outs, multi, _ = emit_layer_call(self, graph, nodes, dtypes)
        return graph, nodes, outs, multi

    # -- masks and integer inputs (issue 11) ------------------------------------------
    def compute_mask(self, inputs, previous_mask=None):
        """Keras's mask of the output: the input's mask where the layer supports masking."""
        if not self.supports_masking:
            return None
        return previous_mask

    def _emit_mask(self, graph, input_nodes, mask_nodes, **call_kwargs):
        """The output's mask node in an engine graph (see the class docstring)."""
        if self.supports_masking and mask_nodes:
            return mask_nodes[0]
        return None

    def _wanted_input_dtype(self, index, **call_kwargs):
        """The dtype input `index` is read as: "int32" for ids (Embedding), else float."""
        return "float32"

    def _engine_config(self):
        """The Keras config the engine builds this layer from (engine_build_layer)."""
        return self.get_config()

    def _engine_weights(self):
        """The weights the engine builds this layer with, in Keras's order."""
        return self.weights

    def _builds_in_engine(self, **call_kwargs):
        """Whether the engine builds this call of the layer from its config (a built-in
        layer whose call() no subclass replaced)."""
        return self._engine_class is not None and not self._has_custom_call()

    def _emit(self, graph, input_nodes, mask_nodes=None):
        """Adds the layer's op(s) to an engine graph. Built-in layers are built by the
        engine from their config; a subclass with a `call()` is recorded op by op through
        ember.ops."""
        if self._builds_in_engine():
            outs, multi, _ = engine_build_layer(self, graph, input_nodes, None, mask_nodes)
            return outs if multi else outs[0]
        if not self._has_custom_call():
            raise NotImplementedError(f"{type(self).__name__} cannot run in the engine yet")
        values = [ops.GraphTensor(graph, n) for n in input_nodes]
        arg = values if getattr(self, "_called_with_list", len(values) > 1) else values[0]
        return _ops.record(graph, self.call, [arg], f"Layer {self.name}: call()")

    def _maybe_build(self, input_shape):
        if not self.built:
            self._build_input_shape = input_shape
            self.build(input_shape)
            self.built = True

    def __call__(self, inputs, training=None, **kwargs):
        """On symbolic tensors (one, or a list for merges) records the call and returns
        symbolic outputs; on arrays runs the layer at once and returns arrays."""
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._called_with_list = isinstance(inputs, (list, tuple))
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)
        if any(isinstance(t, ops.GraphTensor) for t in flat):
            return self._call_in_graph(inputs, flat)
        symbolic = [isinstance(t, KerasTensor) for t in flat]
        if any(symbolic):
            if not all(symbolic):
                raise TypeError(f"{self.name}: cannot mix symbolic tensors and arrays in one call")
            shapes = [t.shape for t in flat]
            shape_arg = shapes if isinstance(inputs, (list, tuple)) else shapes[0]
            self._maybe_build(shape_arg)
            out_shape = self.compute_output_shape(shape_arg)
            multi = isinstance(out_shape, list)
            shapes_out = out_shape if multi else [out_shape]
            outputs = [KerasTensor(s, name=self.name) for s in shapes_out]
            self._set_symbolic_masks(inputs, flat, outputs)
            call = _Call(self, flat, outputs)
            for t in outputs:
                t._call = call
            self._calls.append(call)
            return outputs if multi else outputs[0]
        return self._call_eagerly(inputs)

    def _set_symbolic_masks(self, inputs, flat, outputs):
        """Keras's `_keras_mask` on the outputs of a symbolic call, from compute_mask."""
        masks = [t._keras_mask for t in flat]
        mask_arg = masks if isinstance(inputs, (list, tuple)) else masks[0]
        if mask_arg is None or (isinstance(mask_arg, list) and all(m is None for m in mask_arg)):
            mask_arg = None
        if type(self).__module__.startswith("ember."):
            result = self.compute_mask(inputs, mask_arg)
        else:
            # A user's compute_mask may be written with Keras's ops, which do not take
            # ember's symbolic tensors: the symbolic mask is then unknown. (What runs uses
            # _emit_mask, not this.)
            try:
                result = self.compute_mask(inputs, mask_arg)
            except (TypeError, ValueError, AttributeError, NotImplementedError):
                result = None
        results = result if isinstance(result, (list, tuple)) else [result]
        for t, m in zip(outputs, results):
            t._keras_mask = m if isinstance(m, KerasTensor) else None

    def _call_in_graph(self, inputs, flat):
        """Called from another layer's call() while that one is recorded: adds this
        layer's ops to the same graph."""
        if not all(isinstance(t, ops.GraphTensor) for t in flat):
            raise TypeError(f"{self.name}: cannot mix graph values and arrays in one call")
        graph = flat[0]._graph
        shapes = [t.shape for t in flat]
        self._maybe_build(shapes if isinstance(inputs, (list, tuple)) else shapes[0])
        out = self._emit(graph, [t._node for t in flat])
        if isinstance(out, list):
            return [ops.GraphTensor(graph, n) for n in out]
        return ops.GraphTensor(graph, out)

    def _call_eagerly(self, inputs):
        from ember import _data
        multi_in = isinstance(inputs, (list, tuple))
        arrays, dtypes = [], []
        for i, x in enumerate(inputs if multi_in else [inputs]):
            raw = np.asarray(x)
            if raw.ndim == 0:
                raise ValueError(f"{self.name}: expected an input with a batch axis, got a scalar")
            # Integer arrays reach an ids input (Embedding) as int32 bits, not through floats.
            if raw.dtype.kind in "iub" and is_int_dtype(self._wanted_input_dtype(i)):
                arrays.append(_data.to_id_array(raw, "inputs"))
                dtypes.append("int32")
            else:
                arrays.append(np.ascontiguousarray(raw, dtype=np.float32))
                dtypes.append("float32")
        shapes = [(None,) + x.shape[1:] for x in arrays]
        self._maybe_build(shapes if multi_in else shapes[0])
        graph, nodes, outs, multi_out = self._scratch_graph([x.shape[1:] for x in arrays],
                                                            dtypes)
        results = _core.Model(graph, nodes, outs).predict(arrays, max(len(arrays[0]), 1))
        return results if multi_out else results[0]

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
        return {"name": self.name, "trainable": self.trainable, "dtype": dict(DTYPE_POLICY_CONFIG)}

    # -- saving (Keras's hooks; ember.saving calls them) -----------------------
    def get_build_config(self):
        """{"input_shape": ...} the layer was built with, or None if never built from one."""
        shape = getattr(self, "_build_input_shape", None)
        return None if shape is None else {"input_shape": shape}

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None:
            shape = config["input_shape"]
            if shape and all(isinstance(s, (list, tuple)) for s in shape):
                shape = [tuple(s) for s in shape]
            else:
                shape = tuple(shape)
            self._maybe_build(shape)

    def _variables_in_saving_order(self):
        # Keras saves the variables created trainable first, then the others. A custom
        # layer's sub-layers' variables follow its own (Keras nests them in the file).
        own = self._weights
        return ([w for w in own if w._layer_trainable]
                + [w for w in own if not w._layer_trainable] + self._all_weights()[len(own):])

    def save_own_variables(self, store):
        """Writes this layer's variables into `store` under "0", "1", ..."""
        for i, w in enumerate(self._variables_in_saving_order()):
            store[str(i)] = w.numpy()

    def load_own_variables(self, store):
        """Reads what `save_own_variables` wrote; checks every count and shape first."""
        variables = self._variables_in_saving_order()
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"Layer '{self.name}' expected {len(variables)} variables, but received "
                f"{len(store.keys())} variables during loading. "
                f"Expected: {[w.name for w in variables]}"
            )
        values = [np.asarray(store[str(i)]) for i in range(len(variables))]
        for w, value in zip(variables, values):
            if value.shape != w.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{w.name}' has shape {w.shape} in the model, "
                    f"but the saved weight has shape {value.shape}."
                )
        for w, value in zip(variables, values):
            w.assign(value)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        batch_input_shape = config.pop("batch_input_shape", None)
        check_dtype_policy(config.pop("dtype", None), config.get("name", cls.__name__))
        if batch_input_shape is not None:
            config["input_shape"] = tuple(batch_input_shape[1:])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
