"""`Model`: the functional API - a graph of layer calls between inputs and outputs,
its layers and weights, the model used as a layer of another, summary and the
saving glue. compile/fit/evaluate/predict come from `ember.trainers.Trainer`.
"""

import numpy as np

from ember import _core
from ember.layers.core import InputLayer
from ember.layers.layer import KerasTensor, Layer, emit_layer_call, is_int_dtype, unique_name
from ember.models.functional import calls_in_order, flatten
from ember.models.run_lock import exclusive
from ember.trainers.trainer import Trainer
from ember.utils import summary_utils


class Model(Trainer, Layer):
    """A model: `Model(inputs, outputs)` from symbolic tensors, or a `Sequential`."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name or unique_name(self._default_name()), trainable=trainable,
                         **kwargs)
        self._core = None
        self._layers = []
        self._compile_config = None
        self._compiled_spec = None
        self._pending_optimizer_state = None
        self.compiled = False
        self.optimizer = None
        self.stop_training = False
        self.history = None
        self.inputs, self.outputs = [], []
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("A functional Model needs both `inputs` and `outputs`.")
            self._build_graph(inputs, outputs)

    @staticmethod
    def _default_name():
        return "functional"

    # -- graph ----------------------------------------------------------------
    def _build_graph(self, inputs, outputs):
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs, self.outputs = flatten(inputs), flatten(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be symbolic tensors, got {t!r}")
        for t in self.inputs:
            if not isinstance(t._call.layer, InputLayer):
                raise ValueError(f"Model inputs must come from `ember.Input`, got {t}")
        calls = calls_in_order(self.outputs)
        graph = _core.Graph()
        nodes = {id(t): graph.add_input(list(t.shape[1:]), t._call.layer.name) for t in self.inputs}
        layers = []
        for call in calls:
            if call.layer not in layers:
                layers.append(call.layer)
            if isinstance(call.layer, InputLayer) and id(call.outputs[0]) not in nodes:
                raise ValueError(
                    f"Graph disconnected: the outputs depend on input '{call.layer.name}', "
                    "which is not in the model's `inputs`."
                )
        masks = self._emit_calls(graph, calls, nodes, {})
        self._layers = layers
        # An integer input given back as an output comes back as floats, not int32 bits.
        outputs = [_core.add_cast(graph, nodes[id(t)], False, f"{t.name}/cast_to_float")
                   if is_int_dtype(t.dtype) else nodes[id(t)] for t in self.outputs]
        # A (T, C) output carrying a (T,) mask weights its loss and metrics per step (issue 11).
        output_masks = []
        for t, node in zip(self.outputs, outputs):
            mask, row = masks.get(id(t)), list(graph.row_shape(node))
            fits = mask is not None and len(row) >= 2 and list(graph.row_shape(mask)) == row[:-1]
            output_masks.append(mask if fits else -1)
        self._core = _core.Model(graph, [nodes[id(t)] for t in self.inputs], outputs,
                                 output_masks if max(output_masks) >= 0 else [])
        self._compiled_spec = None
        self.built = True

    @staticmethod
    def _emit_calls(graph, calls, nodes, masks):
        """Emits layer calls in order into `graph`; nodes / masks map id(tensor) to its
        node / mask node (filled in as the calls run). The one emitter of functional models,
        top-level and nested: int inputs get their casts and masks flow (emit_layer_call)."""
        casts = {}
        for call in calls:
            if isinstance(call.layer, InputLayer):
                continue
            outs, _, out_masks = emit_layer_call(
                call.layer, graph, [nodes[id(t)] for t in call.inputs],
                [t.dtype for t in call.inputs], [masks.get(id(t)) for t in call.inputs], casts,
                call.kwargs)
            for t, node, mask in zip(call.outputs, outs, out_masks):
                nodes[id(t)] = node
                masks[id(t)] = mask
        return masks

    def _ensure_built(self, x):
        """Sequential builds from the first data it sees; a functional model is built."""
        if self._core is None:
            raise ValueError(f"Model {self.name} has no inputs or outputs yet.")

    @property
    def layers(self):
        return list(self._layers)

    def _output_names(self):
        return [t._call.layer.name for t in self.outputs]

    # -- a model used as a layer of another ---------------------------------------
    def build(self, input_shape):
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        if len(shapes) != len(self.inputs):
            raise ValueError(f"Model {self.name} expects {len(self.inputs)} inputs, "
                             f"but it received {len(shapes)} input tensors.")
        for shape, t in zip(shapes, self.inputs):
            if tuple(shape[1:]) != tuple(t.shape[1:]):
                raise ValueError(
                    f'Input {t.shape} of layer "{self.name}" is incompatible with the input '
                    f"received: expected shape={t.shape}, found shape={tuple(shape)}"
                )
        out = [t.shape for t in self.outputs]
        return out if len(out) > 1 or isinstance(self._outputs_struct, (list, tuple, dict)) \
            else out[0]

    # A nested model passes masks through its layers as Keras's functional models do.
    _consumes_mask = True

    def _wanted_input_dtype(self, index):
        return self.inputs[index].dtype if index < len(self.inputs) else "float32"

    def _emit(self, graph, input_nodes, mask_nodes=None):
        """Replays this model's layer calls into an outer graph: nested models share
        their layers (and weights) with the model they came from."""
        nodes = {id(t): node for t, node in zip(self.inputs, input_nodes)}
        masks = {id(t): m for t, m in zip(self.inputs, mask_nodes or [])}
        masks = self._emit_calls(graph, calls_in_order(self.outputs), nodes, masks)
        self._emitted_masks = (graph, [masks.get(id(t)) for t in self.outputs])
        out = [nodes[id(t)] for t in self.outputs]
        return out if len(out) > 1 or isinstance(self._outputs_struct, (list, tuple, dict)) \
            else out[0]

    def _emit_mask(self, graph, input_nodes, mask_nodes):
        emitted = getattr(self, "_emitted_masks", None)
        if emitted is None or emitted[0] is not graph:
            return None
        self._emitted_masks = None
        return emitted[1]

    @property
    def weights(self):
        seen, out = set(), []
        for layer in self.layers:
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def trainable_weights(self):
        return [w for w in self.weights if w.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [w for w in self.weights if not w.trainable or not self.trainable]

    @Layer.trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self.layers:
            layer.trainable = value

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    @exclusive
    def set_weights(self, weights):
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"You called `set_weights(weights)` on model {self.name} with a weight list of "
                f"length {len(weights)}, but the model was expecting {len(own)} weights."
            )
        for w, value in zip(own, weights):
            if np.shape(value) != w.shape:
                raise ValueError(
                    f"Weight {w.path} has shape {w.shape}, but the value given has shape "
                    f"{np.shape(value)}."
                )
        for w, value in zip(own, weights):
            w.assign(value)

    def count_params(self):
        return int(sum(np.prod(w.shape, dtype=np.int64) for w in self.weights))

    def get_layer(self, name=None, index=None):
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index, not both.")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def __call__(self, inputs, training=None, **kwargs):
        flat = flatten(inputs)
        if any(isinstance(t, KerasTensor) for t in flat):
            if isinstance(inputs, dict):
                inputs = [inputs[t._call.layer.name] for t in self.inputs]
            return super().__call__(inputs if len(flat) > 1 else flat[0], training=training)
        return self.predict_on_batch(inputs)

    # -- inspection -------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints the layers, their output shapes and parameter counts, as Keras does."""
        rows = []
        for layer in self.layers:
            shape = layer._calls[-1].outputs[0].shape if layer._calls else "?"
            rows.append((f"{layer.name} ({type(layer).__name__})",
                         summary_utils.format_shape(shape) if layer._calls else "?",
                         summary_utils.format_param_count(layer.count_params())))
        trainable = int(sum(np.prod(w.shape) for w in self.trainable_weights))
        total = self.count_params()
        optimizer_params = None
        if self.optimizer is not None and self.optimizer.built:
            # Keras counts its scalar variables beside the slots: the iteration, the
            # learning rate unless a schedule computes it, and extras such as Nadam's.
            core = self.optimizer._core
            scalars = 1 + (core.schedule is None) + len(core.scalar_names())
            optimizer_params = scalars + int(sum(
                np.prod(self.optimizer._keras_slot_shape(name, w.shape))
                for w in self.trainable_weights for name in core.slot_names()))
        summary_utils.print_summary(
            self.name, rows, total + (optimizer_params or 0), trainable, total - trainable,
            line_length=line_length, positions=positions, print_fn=print_fn,
            optimizer_params=optimizer_params)

    # -- saving (the formats live in ember.saving) -----------------------------------
    def get_config(self):
        """A functional model's config as Keras 3 writes it: its layers with their
        inbound nodes, and which layer outputs are the model's inputs and outputs."""
        if not self.inputs:
            return {"name": self.name, "trainable": self.trainable}
        from ember.saving import model_config
        return model_config.functional_get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "layers" in config and "input_layers" in config:
            from ember.saving import model_config
            return model_config.functional_from_config(cls, config, custom_objects)
        return cls(**config)

    def get_build_config(self):
        return {"input_shape": None} if self.built and self.inputs else None

    def build_from_config(self, config):
        """A functional model is built when it is constructed."""

    def get_compile_config(self):
        from ember.saving import model_config
        return model_config.get_compile_config(self)

    def compile_from_config(self, config):
        from ember.saving import model_config
        model_config.compile_from_config(self, config)

    def to_json(self, **kwargs):
        """The model's config as a JSON string; `ember.models.model_from_json` reads it."""
        import json

        from ember.saving import serialization_lib
        return json.dumps(serialization_lib.serialize_keras_object(self), **kwargs)

    @exclusive
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the whole model: `.keras` (Keras 3's zip) or `.h5` (Keras's legacy HDF5)."""
        from ember.saving import saving_api
        return saving_api.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    @exclusive
    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Saves the weights (and optimizer state) in Keras 3's `.weights.h5` layout."""
        from ember.saving import saving_api
        return saving_api.save_weights(self, filepath, overwrite=overwrite,
                                       max_shard_size=max_shard_size)

    @exclusive
    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights from a `.weights.h5`, `.keras` or legacy `.h5` file."""
        from ember.saving import saving_api
        return saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)
