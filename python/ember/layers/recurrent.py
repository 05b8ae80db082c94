"""Recurrent layers: SimpleRNN, LSTM, GRU and the Bidirectional wrapper.

Each recurrent layer is one fused engine op (cpp/include/ember/ops_recurrent.h): one GEMM
projects every timestep's input, then each step runs one recurrent GEMM and one fused gate
pass; backward through time the same way. Arguments, defaults, weights (shapes, order and
names: `lstm/lstm_cell/kernel`) and files follow Keras 3, whose layers keep their weights in a
`cell` sub-object; ember keeps them on the layer and writes them where Keras does.

A mask (from Embedding(mask_zero=True) or Masking, or `layer(x, mask=m)` on arrays) skips
timesteps as Keras does: the states carry over and the output repeats the carried state.
"""

import numpy as np

from ember import _core, activations, constraints, initializers, regularizers
from ember.layers.layer import KerasTensor, Layer, deserialize_config_objects
from ember.layers.regularization import _layer_seed

# The activations the fused gate passes compute (element math in C++).
_FUSED_ACTIVATIONS = ("tanh", "sigmoid", "relu", "hard_sigmoid", "linear")


def _fused_activation(identifier, layer, arg):
    fn = activations.get(identifier)
    name = getattr(fn, "__name__", None)
    if not activations.is_builtin(fn) or name not in _FUSED_ACTIVATIONS:
        raise ValueError(f"{layer}: `{arg}`={identifier!r} is not supported; ember's fused "
                         f"recurrent kernels compute {', '.join(_FUSED_ACTIVATIONS)}.")
    return fn


def _unit_forget_bias_initializer(bias_initializer, units):
    """Keras's LSTM bias with unit_forget_bias: the initializer's values, ones for the forget
    gate."""
    init = initializers.get(bias_initializer)

    def initialize(shape, dtype=None):
        return np.concatenate([np.asarray(init((units,)), np.float32),
                               np.ones((units,), np.float32),
                               np.asarray(init((units * 2,)), np.float32)])
    return initialize


class _CellWeights:
    """The `cell` object Keras 3 saves an RNN's weights under (`layers/lstm/cell/vars/0..2`)."""

    def __init__(self, layer):
        self._layer = layer
        self.name = layer._cell_name

    def save_own_variables(self, store):
        for i, w in enumerate(self._layer._weights):
            store[str(i)] = w.numpy()

    def load_own_variables(self, store):
        Layer.load_own_variables(self._layer, store)


class _RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: the sequence arguments, the op, the files."""

    _cell_kind = None  # "simple_rnn", "lstm", "gru"
    _gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False,
                 **kwargs):
        # Keras's cell implementation: 1 draws a dropout mask per gate (recurrent_dropout
        # implies it); otherwise the same numbers.
        self.implementation = kwargs.pop("implementation", 2)
        if self.implementation not in (1, 2):
            raise ValueError(f"{type(self).__name__}: `implementation` must be 1 or 2, got "
                             f"{self.implementation!r}")
        kwargs.pop("use_cudnn", None)
        if kwargs.pop("time_major", False):
            raise ValueError(f"{type(self).__name__}: `time_major=True` is not supported; "
                             "Keras 3 takes (batch, timesteps, features) inputs.")
        super().__init__(**kwargs)
        kind = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError("Received an invalid value for argument `units`, expected a "
                             f"positive integer, got {units}.")
        if stateful:
            raise ValueError(f"{kind}: `stateful=True` is not supported by ember (states are "
                             "not kept between batches); use stateful=False.")
        for arg, value in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{kind}: `{arg}` must be a float in [0, 1], got {value!r}")
        self.units = int(units)
        self.activation = _fused_activation(activation, kind, "activation")
        self.recurrent_activation = _fused_activation(recurrent_activation, kind,
                                                      "recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if self.activity_regularizer is not None:
            regularizers.engine_factors(self.activity_regularizer, self.name)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        # Keras clips the rates into [0, 1].
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self._seed = _layer_seed(seed)
        self._eager_draws = 0
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # the fused op has no loop to unroll: same numbers
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._cell_name = f"{self._cell_kind}_cell"
        self.kernel = self.recurrent_kernel = self.bias = None

    # -- weights ------------------------------------------------------------
    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        if len(input_shape) != 3:
            raise ValueError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected ndim=3 (batch, timesteps, features), found "
                             f"ndim={len(input_shape)}. Full shape received: {tuple(input_shape)}")
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known")
        gh = self._gates * self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], gh), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, gh), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=self._bias_shape(), name="bias",
                                        initializer=self._bias_initializer(),
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self._set_paths(self.name)
        self.built = True

    def _set_paths(self, prefix):
        # Keras 3 names the weights through the cell: lstm/lstm_cell/kernel.
        for w in self._weights:
            w.path = f"{prefix}/{self._cell_name}/{w.name}"

    def _saved_children(self):
        return [("cell", _CellWeights(self))]

    def save_own_variables(self, store):
        pass  # the cell holds them in Keras's files

    def load_own_variables(self, store):
        if len(store.keys()):
            raise ValueError(f"Layer '{self.name}' keeps its variables in its cell, but the file "
                             f"has {len(store.keys())} variables on the layer itself.")

    @property
    def states_count(self):
        return 2 if self._cell_kind == "lstm" else 1

    # -- shapes ----------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected inputs of rank 3 (batch, timesteps, "
                             f"features), got shape {tuple(input_shape)}")
        batch = input_shape[0]
        out = (batch, input_shape[1], self.units) if self.return_sequences else (batch,
                                                                                 self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self.states_count
        return out

    # -- the engine --------------------------------------------------------------
    def __call__(self, inputs, training=None, mask=None, initial_state=None, **kwargs):
        if initial_state is not None:
            raise NotImplementedError(f"{self.name}: `initial_state` is not supported yet; the "
                                      "states start at zero.")
        symbolic = isinstance(inputs, (KerasTensor, list, tuple))
        if symbolic or (mask is None and not training):
            if mask is not None and not isinstance(mask, KerasTensor):
                raise TypeError(f"{self.name}: pass an array `mask` with array inputs")
            return super().__call__(inputs, training=training, **kwargs)
        return self._call_arrays(inputs, mask, bool(training))

    def _call_arrays(self, inputs, mask, training):
        """`layer(x, mask=m, training=...)` on arrays: one pass through a graph of its own."""
        x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float32))
        if x.ndim != 3:
            raise ValueError(f"{self.name}: expected inputs of rank 3 (batch, timesteps, "
                             f"features), got shape {x.shape}")
        self._maybe_build((None,) + x.shape[1:])
        graph = _core.Graph()
        nodes = [graph.add_input(list(x.shape[1:]), "input")]
        arrays = [x]
        mask_nodes = None
        if mask is not None:
            m = np.asarray(mask)
            if m.shape != x.shape[:2]:
                raise ValueError(f"{self.name}: the mask must have shape {x.shape[:2]} "
                                 f"(batch, timesteps), got {m.shape}")
            arrays.append(np.ascontiguousarray(m.astype(np.float32)))
            mask_nodes = [graph.add_input([x.shape[1]], "mask")]
        if training:
            self._eager_draws += 1
        out = self._emit(graph, nodes, mask_nodes)
        outs = out if isinstance(out, list) else [out]
        model = _core.Model(graph, nodes + (mask_nodes or []), outs)
        results = model.forward_pass(arrays, training)
        return results if isinstance(out, list) else results[0]

    def _engine_config(self):
        # Keras's config leaves `implementation` out; the engine's dropout masks depend on it.
        return {**self.get_config(), "implementation": self.implementation}

    # -- config ----------------------------------------------------------------
    def get_config(self):
        config = {**super().get_config(), "return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards,
                  "stateful": self.stateful, "unroll": self.unroll,
                  "zero_output_for_mask": self.zero_output_for_mask, "units": self.units,
                  "activation": activations.serialize(self.activation)}
        if self._cell_kind != "simple_rnn":
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config.update({
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer)})
        if self._cell_kind == "lstm":
            config["unit_forget_bias"] = self.unit_forget_bias
        config.update({
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout})
        if self._cell_kind == "gru":
            config["reset_after"] = self.reset_after
        config["seed"] = self.seed
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        deserialize_config_objects(config, ("kernel_initializer", "recurrent_initializer",
                                            "bias_initializer"), initializers)
        deserialize_config_objects(config, ("kernel_regularizer", "recurrent_regularizer",
                                            "bias_regularizer", "activity_regularizer"),
                                   regularizers)
        return super().from_config(config)


class SimpleRNN(_RNN):
    """Fully-connected RNN: `h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel +
    bias)`."""

    _engine_class = "SimpleRNN"
    _cell_kind = "simple_rnn"
    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation="linear",
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)


def _check_use_cudnn(use_cudnn):
    """LSTM's and GRU's `use_cudnn`, checked as Keras checks it (ember has no cuDNN path; the
    flag is kept for configs)."""
    if use_cudnn not in ("auto", True, False):
        raise ValueError("Invalid valid received for argument `use_cudnn`. Expected one of "
                         f"{{'auto', True, False}}. Received: use_cudnn={use_cudnn}")


class LSTM(_RNN):
    """Long Short-Term Memory (Hochreiter 1997), gates i, f, c, o:
    `c_t = f * c_{t-1} + i * activation(z_c)`, `h_t = o * activation(c_t)`."""

    _engine_class = "LSTM"
    _cell_kind = "lstm"
    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", **kwargs):
        _check_use_cudnn(use_cudnn)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.use_cudnn = use_cudnn

    def _bias_initializer(self):
        if self.unit_forget_bias:
            return _unit_forget_bias_initializer(self.bias_initializer, self.units)
        return self.bias_initializer


class GRU(_RNN):
    """Gated Recurrent Unit (Cho et al. 2014), gates z, r, h:
    `h_t = z * h_{t-1} + (1 - z) * activation(x_h + r * (h_{t-1} @ U_h + b_h))` with
    `reset_after=True` (the default, bias of shape (2, 3 * units)), or the reset gate applied
    before the product with `reset_after=False` (bias (3 * units,))."""

    _engine_class = "GRU"
    _cell_kind = "gru"
    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 use_cudnn="auto", **kwargs):
        _check_use_cudnn(use_cudnn)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.reset_after = bool(reset_after)
        self.use_cudnn = use_cudnn

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)


_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence and
    merges their outputs (`merge_mode` concat, sum, mul, ave, or None for both)."""

    _engine_class = "Bidirectional"

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, _RNN):
            raise ValueError("Please initialize `Bidirectional` layer with a recurrent layer "
                             f"(SimpleRNN, LSTM or GRU). Received: {layer}")
        if backward_layer is not None and not isinstance(backward_layer, _RNN):
            raise ValueError("`backward_layer` need to be a recurrent layer (SimpleRNN, LSTM or "
                             f"GRU). Received: {backward_layer}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be "
                             "one of {\"sum\", \"mul\", \"ave\", \"concat\", None}")
        if weights is not None:
            raise NotImplementedError("Bidirectional: `weights` is not supported; use "
                                      "set_weights()")
        super().__init__(**kwargs)
        config = layer.get_config()
        name = layer.name[len("forward_"):] if layer.name.startswith("forward_") else layer.name
        config["name"] = f"forward_{name}"
        self.forward_layer = type(layer).from_config(config)
        if backward_layer is None:
            config = layer.get_config()
            config["go_backwards"] = not layer.go_backwards
            config["name"] = f"backward_{name}"
            self.backward_layer = type(layer).from_config(config)
        else:
            self.backward_layer = backward_layer
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError("Forward layer and backward layer should have different "
                             f"`go_backwards` value. Received: forward_layer.go_backwards "
                             f"{fwd.go_backwards}, backward_layer.go_backwards="
                             f"{bwd.go_backwards}")
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, a) != getattr(bwd, a):
                raise ValueError("Forward layer and backward layer are expected to have the "
                                 f'same value for attribute "{a}", got "{getattr(fwd, a)}" for '
                                 f'forward layer and "{getattr(bwd, a)}" for backward layer')
        # As Keras: masked steps output zeros when the sequences are returned.
        fwd.zero_output_for_mask = fwd.return_sequences
        bwd.zero_output_for_mask = bwd.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = fwd.return_sequences
        self.return_state = fwd.return_state
        self.stateful = False
        self.supports_masking = True

    def build(self, input_shape):
        for sub in (self.forward_layer, self.backward_layer):
            sub._maybe_build(input_shape)
            sub._set_paths(f"{self.name}/{sub.name}")
        self.built = True

    def _saved_children(self):
        return [("forward_layer", self.forward_layer), ("backward_layer", self.backward_layer)]

    def save_own_variables(self, store):
        pass  # the forward and backward layers' cells hold them

    def load_own_variables(self, store):
        if len(store.keys()):
            raise ValueError(f"Layer '{self.name}' keeps its variables in its forward and "
                             f"backward layers, but the file has {len(store.keys())} on itself.")

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            out, states = out[0], out[1:]
        if self.merge_mode == "concat":
            out = tuple(out[:-1]) + (out[-1] + self.backward_layer.units,)
        if self.merge_mode is None:
            result = [out, self.backward_layer.compute_output_shape(input_shape)
                      if not self.return_state else
                      self.backward_layer.compute_output_shape(input_shape)[0]]
        else:
            result = [out]
        if self.return_state:
            bstates = self.backward_layer.compute_output_shape(input_shape)[1:]
            return result + list(states) + list(bstates)
        return result if self.merge_mode is None else result[0]

    # The engine builds both directions from the nested configs; their dropout draws come
    # from the forward layer's seed.
    _seed = property(lambda self: self.forward_layer._seed)
    _eager_draws = property(lambda self: self.forward_layer._eager_draws)

    def _engine_config(self):
        config = self.get_config()
        for key, sub in (("layer", self.forward_layer), ("backward_layer", self.backward_layer)):
            config[key] = {**config[key], "config": sub._engine_config()}
        return config

    def __call__(self, inputs, training=None, mask=None, initial_state=None, **kwargs):
        if initial_state is not None:
            raise NotImplementedError(f"{self.name}: `initial_state` is not supported yet")
        if isinstance(inputs, (KerasTensor, list, tuple)) or (mask is None and not training):
            return super().__call__(inputs, training=training, **kwargs)
        x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float32))
        if x.ndim != 3:
            raise ValueError(f"{self.name}: expected inputs of rank 3 (batch, timesteps, "
                             f"features), got shape {x.shape}")
        self._maybe_build((None,) + x.shape[1:])
        graph = _core.Graph()
        nodes = [graph.add_input(list(x.shape[1:]), "input")]
        arrays, mask_nodes = [x], None
        if mask is not None:
            m = np.asarray(mask)
            if m.shape != x.shape[:2]:
                raise ValueError(f"{self.name}: the mask must have shape {x.shape[:2]} "
                                 f"(batch, timesteps), got {m.shape}")
            arrays.append(np.ascontiguousarray(m.astype(np.float32)))
            mask_nodes = [graph.add_input([x.shape[1]], "mask")]
        if training:
            self.forward_layer._eager_draws += 1
        out = self._emit(graph, nodes, mask_nodes)
        outs = out if isinstance(out, list) else [out]
        results = _core.Model(graph, nodes + (mask_nodes or []), outs).forward_pass(
            arrays, bool(training))
        return results if isinstance(out, list) else results[0]

    def get_config(self):
        from ember.saving.serialization_lib import serialize_keras_object

        # Keras nests the layers in their full form in either file format.
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_keras_object(self.forward_layer),
                "backward_layer": serialize_keras_object(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ember.saving.serialization_lib import deserialize_layer

        def unbuilt(layer_config):
            # Bidirectional builds its copies itself: the wrapped layer's own weights (which
            # it discards) must not be made from the file's budget of values.
            layer_config = dict(layer_config)
            layer_config.pop("build_config", None)
            return deserialize_layer(layer_config, custom_objects)

        config = dict(config)
        config["layer"] = unbuilt(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = unbuilt(config["backward_layer"])
        return super().from_config(config)
