"""`Model`: the functional API and everything compile/fit/evaluate/predict do.

The model's graph, weights, optimizer state, losses and metrics live in the
engine (`ember._core.Model`); this class turns Keras-style arguments into
engine calls. During fit, Python runs once per epoch - or once per batch when
a callback (or a live progress bar) asks for batch-level hooks.
"""

import math
import time

import numpy as np

from ember import _core, _data, losses as losses_module, metrics as metrics_module, optimizers
from ember import random as _random
from ember.callbacks import CallbackList
from ember.layers.core import InputLayer
from ember.layers.layer import KerasTensor, Layer, unique_name
from ember.utils import summary_utils


def _flatten(structure):
    if isinstance(structure, dict):
        return list(structure.values())
    if isinstance(structure, (list, tuple)):
        return list(structure)
    return [structure]


def _calls_in_order(outputs):
    """The layer calls that produce `outputs`, inputs first (depth-first post-order)."""
    order, seen = [], set()
    stack = [(t, False) for t in reversed(outputs)]
    while stack:
        tensor, expanded = stack.pop()
        call = tensor._call
        if call is None:
            raise ValueError(f"{tensor} was not produced by a layer; use `ember.Input` for inputs.")
        if id(call) in seen and not expanded:
            continue
        if expanded:
            if id(call) not in seen:
                seen.add(id(call))
                order.append(call)
            continue
        stack.append((tensor, True))
        stack.extend((t, False) for t in reversed(call.inputs) if id(t._call) not in seen)
    return order


class Model(Layer):
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
        self.inputs, self.outputs = _flatten(inputs), _flatten(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be symbolic tensors, got {t!r}")
        for t in self.inputs:
            if not isinstance(t._call.layer, InputLayer):
                raise ValueError(f"Model inputs must come from `ember.Input`, got {t}")
        calls = _calls_in_order(self.outputs)
        graph = _core.Graph()
        nodes = {id(t): graph.add_input(list(t.shape[1:]), t._call.layer.name) for t in self.inputs}
        layers = []
        for call in calls:
            if call.layer not in layers:
                layers.append(call.layer)
            if isinstance(call.layer, InputLayer):
                if id(call.outputs[0]) not in nodes:
                    raise ValueError(
                        f"Graph disconnected: the outputs depend on input '{call.layer.name}', "
                        "which is not in the model's `inputs`."
                    )
                continue
            nodes[id(call.outputs[0])] = call.layer._emit(graph, [nodes[id(t)] for t in call.inputs])
        self._layers = layers
        self._core = _core.Model(graph, [nodes[id(t)] for t in self.inputs],
                                 [nodes[id(t)] for t in self.outputs])
        self._compiled_spec = None
        self.built = True

    def _ensure_built(self, x):
        """Sequential builds from the first data it sees; a functional model is built."""
        if self._core is None:
            raise ValueError(f"Model {self.name} has no inputs or outputs yet.")

    @property
    def layers(self):
        return list(self._layers)

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

    # -- compile ----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Sets the optimizer, loss(es) and metrics; the engine plans its buffers."""
        if weighted_metrics is not None:
            raise NotImplementedError("weighted_metrics is not supported yet")
        optimizer = optimizers.get(optimizer)
        if loss is not None:
            for each in _flatten(loss):
                losses_module.get(each)  # raises ValueError for an unknown name
        for each in _flatten(metrics) if metrics is not None else []:
            metrics_module.resolve(each, (None, 2), (None, 2))  # validates the name
        self.optimizer = optimizer
        self.loss = loss
        self._compile_config = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics}
        self._compiled_spec = None
        self.compiled = True

    def _assert_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    def _output_names(self):
        return [t._call.layer.name for t in self.outputs]

    def _losses_per_output(self):
        loss = self._compile_config["loss"]
        if loss is None:
            raise ValueError("The model was compiled without a loss; `compile(loss=...)` first.")
        n = len(self.outputs)
        if isinstance(loss, dict):
            missing = set(self._output_names()) - set(loss)
            if missing:
                raise ValueError(f"`loss` dict has no entry for outputs {sorted(missing)}")
            return [loss[name] for name in self._output_names()]
        if isinstance(loss, (list, tuple)):
            if len(loss) != n:
                raise ValueError(f"`loss` has {len(loss)} entries for a model with {n} outputs")
            return list(loss)
        return [loss] * n

    def _sync_compile(self, targets):
        """Hands the compile arguments to the engine, resolving "accuracy" from the
        targets' shapes as Keras does. Repeated calls cost nothing unless they change."""
        losses = self._losses_per_output()
        weights = self._compile_config["loss_weights"] or [1.0] * len(self.outputs)
        if isinstance(weights, dict):
            weights = [weights.get(name, 1.0) for name in self._output_names()]
        metric_ids = self._compile_config["metrics"] or []
        metric_specs, self._metric_names = [], []
        for each in _flatten(metric_ids):
            name, kernel, threshold = metrics_module.resolve(
                each, targets[0].shape, self.outputs[0].shape)
            metric_specs.append((kernel, 0, float(threshold)))
            self._metric_names.append(name)
        spec = ([(losses_module.engine_name(lo), float(w)) for lo, w in zip(losses, weights)],
                metric_specs)
        if spec != self._compiled_spec:
            self._core.compile(spec[0], self.optimizer._core, spec[1])
            self._compiled_spec = spec
        if self._pending_optimizer_state is not None:
            state, self._pending_optimizer_state = self._pending_optimizer_state, None
            self._set_optimizer_state(state)

    def _optimizer_variables(self):
        """The trainable variables in the order the engine's optimizer keeps slots for."""
        return [w for w in self.weights if w.trainable]

    def _get_optimizer_state(self):
        """The optimizer's state: iterations, learning rate, and per trainable variable
        its slots (named by `slot_names`, shaped like the variable). None before the
        optimizer has been built by training."""
        if self.optimizer is None or not self.optimizer.built or self._compiled_spec is None:
            return None
        core = self.optimizer._core
        variables = self._optimizer_variables()
        return {
            "iterations": int(core.iterations),
            "learning_rate": float(core.learning_rate),
            "slot_names": list(core.slot_names()),
            "slots": [[s.reshape(v.shape) for s in slots]
                      for v, slots in zip(variables, core.slots())],
        }

    def _set_optimizer_state(self, state):
        """Restores what _get_optimizer_state returned. Before the engine is compiled (the
        first fit/evaluate resolves metrics from the data) it is kept and applied then."""
        if self._compiled_spec is None:
            self._pending_optimizer_state = state
            return
        core = self.optimizer._core
        if list(state["slot_names"]) != list(core.slot_names()):
            raise ValueError(f"optimizer state has slots {state['slot_names']}, but "
                             f"{type(self.optimizer).__name__} keeps {core.slot_names()}")
        variables = self._optimizer_variables()
        if len(state["slots"]) != len(variables):
            raise ValueError(f"optimizer state is for {len(state['slots'])} variables; the "
                             f"model has {len(variables)} trainable variables")
        core.set_slots([[np.asarray(s, np.float32).reshape(-1) for s in slots]
                        for slots in state["slots"]])
        core.iterations = int(state["iterations"])
        core.learning_rate = float(state["learning_rate"])
        self.optimizer.built = True

    @property
    def metrics_names(self):
        return ["loss"] + list(getattr(self, "_metric_names", []))

    # -- data -------------------------------------------------------------------
    def _prepare_inputs(self, x):
        self._ensure_built(x)
        names = [t._call.layer.name for t in self.inputs]
        arrays = _data.to_arrays(x, "x", len(self.inputs), names)
        for i, (a, t) in enumerate(zip(arrays, self.inputs)):
            expected = t.shape[1:]
            if a.shape[1:] != expected:
                if a.ndim == 1 and expected == (1,):
                    arrays[i] = a.reshape(-1, 1)
                    continue
                raise ValueError(
                    f'Input {i} of layer "{self.name}" is incompatible with the layer: '
                    f"expected shape={t.shape}, found shape={a.shape}"
                )
        return arrays

    def _prepare_targets(self, y, samples):
        if y is None:
            raise ValueError("`y` is required to train or evaluate this model.")
        arrays = _data.to_arrays(y, "y", len(self.outputs), self._output_names())
        losses = self._losses_per_output()
        for o, (t, out, loss) in enumerate(zip(arrays, self.outputs, losses)):
            if t.shape[0] != samples:
                raise ValueError(
                    f"x and y must have the same number of samples; got {samples} and {t.shape[0]}."
                )
            kernel = losses_module.engine_name(loss)
            out_shape = out.shape[1:]
            if kernel == "sparse_categorical_crossentropy":
                labels_shape = out_shape[:-1]
                if t.shape[1:] not in (labels_shape, labels_shape + (1,)):
                    raise ValueError(
                        f"sparse_categorical_crossentropy expects integer labels of shape "
                        f"{(None,) + labels_shape}, got y of shape {t.shape} for output "
                        f"shape {out.shape}."
                    )
                losses_module.check_sparse_labels(t, out_shape[-1])
                arrays[o] = t.reshape(samples, -1)
            elif t.shape[1:] != out_shape:
                if t.shape[1:] + (1,) == out_shape:
                    arrays[o] = t.reshape((samples,) + out_shape)
                    continue
                hint = ""
                if kernel == "categorical_crossentropy" and t.shape[1:] in ((), (1,)):
                    hint = (" The targets look like class indices: one-hot encode them with "
                            "`ember.utils.to_categorical`, or use "
                            "loss='sparse_categorical_crossentropy'.")
                raise ValueError(
                    f"Target shape {t.shape} does not match the model's output shape "
                    f"{out.shape} for loss {kernel}.{hint}"
                )
        return arrays

    @staticmethod
    def _batch_size(batch_size, default=32):
        if batch_size is None:
            return default
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}")
        return int(batch_size)

    def _logs(self):
        values = self._core.metric_results()
        return {name: float(v) for name, v in zip(self.metrics_names, values)}

    # -- training ---------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for `epochs` epochs; returns a History whose `.history` holds the
        per-epoch logs (`loss`, metrics, and `val_`-prefixed ones with validation)."""
        self._assert_compiled()
        for arg, value in (("class_weight", class_weight), ("sample_weight", sample_weight),
                           ("steps_per_epoch", steps_per_epoch),
                           ("validation_steps", validation_steps)):
            if value is not None:
                raise NotImplementedError(f"fit: `{arg}` is not supported yet")
        batch_size = self._batch_size(batch_size)
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer, got {epochs!r}")
        xs = self._prepare_inputs(x)
        n = xs[0].shape[0]
        ys = self._prepare_targets(y, n)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError("`validation_data` must be a tuple (x_val, y_val).")
            vx = self._prepare_inputs(validation_data[0])
            val = (vx, self._prepare_targets(validation_data[1], vx[0].shape[0]))
        elif validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"`validation_split` must be in (0, 1), got {validation_split}")
            split_at = int(math.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(
                    f"Training data contains {n} samples, which is not sufficient to split it "
                    f"into a validation and training set as specified by "
                    f"`validation_split={validation_split}`. Either provide more data, or a "
                    "different value for the `validation_split` argument."
                )
            val = ([a[split_at:] for a in xs], [a[split_at:] for a in ys])
            xs, ys = [a[:split_at] for a in xs], [a[:split_at] for a in ys]
            n = split_at
        self._sync_compile(ys)
        self.optimizer.built = True
        val_batch_size = self._batch_size(validation_batch_size, batch_size)
        steps = math.ceil(n / batch_size)
        verbose = 1 if verbose == "auto" else verbose
        cbs = CallbackList(callbacks, add_history=True, add_progbar=bool(verbose), model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        per_batch = cbs.listens_per_batch("train")
        chunked = cbs.only_progress_per_batch("train")
        self.stop_training = False
        cbs.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self._core.reset_metrics()
            cbs.on_epoch_begin(epoch)
            order = _random.generator().permutation(n) if shuffle else None
            if per_batch:
                self._train_with_batch_hooks(xs, ys, order, batch_size, steps, cbs, chunked)
            else:
                self._core.train_batches(xs, ys, order, batch_size, 0, steps)
            logs = self._logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._test(val[0], val[1], val_batch_size, cbs, in_fit=True)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return cbs.history

    def _train_with_batch_hooks(self, xs, ys, order, batch_size, steps, cbs, chunked):
        """One epoch with batch-level hooks. When only the progress bar listens, batches
        run in chunks that double until one takes ~10 ms, so the bar still moves
        smoothly but Python is not entered per batch."""
        step, chunk = 0, 1
        while step < steps and not self.stop_training:
            end = min(step + chunk, steps)
            cbs.on_train_batch_begin(step)
            start = time.perf_counter()
            self._core.train_batches(xs, ys, order, batch_size, step, end)
            if chunked and time.perf_counter() - start < 0.01:
                chunk *= 2
            cbs.on_train_batch_end(end - 1, self._logs())
            step = end

    def _test(self, xs, ys, batch_size, cbs, in_fit=False):
        steps = math.ceil(xs[0].shape[0] / batch_size)
        self._core.reset_metrics()
        cbs.on_test_begin()
        if cbs.listens_per_batch("test"):
            for step in range(steps):
                cbs.on_test_batch_begin(step)
                self._core.test_batches(xs, ys, batch_size, step, step + 1)
                cbs.on_test_batch_end(step, self._logs())
        else:
            self._core.test_batches(xs, ys, batch_size, 0, steps)
        logs = self._logs()
        cbs.on_test_end(logs)
        return logs

    def _flatten_logs(self, logs):
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """The loss (and metrics) over the data: a scalar, a list, or a dict."""
        self._assert_compiled()
        if sample_weight is not None or steps is not None:
            raise NotImplementedError("evaluate: `sample_weight` and `steps` are not supported yet")
        batch_size = self._batch_size(batch_size)
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        self._sync_compile(ys)
        verbose = 1 if verbose == "auto" else verbose
        cbs = CallbackList(callbacks, add_progbar=bool(verbose), model=self, verbose=verbose,
                           epochs=1, steps=math.ceil(xs[0].shape[0] / batch_size))
        logs = self._test(xs, ys, batch_size, cbs)
        return logs if return_dict else self._flatten_logs(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as NumPy arrays (a list for several outputs)."""
        if steps is not None:
            raise NotImplementedError("predict: `steps` is not supported yet")
        batch_size = self._batch_size(batch_size)
        xs = self._prepare_inputs(x)
        if verbose == "auto":
            verbose = 1
        if verbose or callbacks:
            cbs = CallbackList(callbacks, add_progbar=bool(verbose), model=self, verbose=verbose,
                               epochs=1, steps=math.ceil(xs[0].shape[0] / batch_size))
            cbs.on_predict_begin()
            outs = self._core.predict(xs, batch_size)
            cbs.on_predict_end()
        else:
            outs = self._core.predict(xs, batch_size)
        return self._structure_outputs(outs)

    def _structure_outputs(self, outs):
        if isinstance(self._outputs_struct, dict):
            return dict(zip(self._outputs_struct, outs))
        return outs[0] if len(outs) == 1 and not isinstance(self._outputs_struct, (list, tuple)) \
            else list(outs)

    def __call__(self, inputs, training=None, **kwargs):
        if isinstance(inputs, KerasTensor) or (
            isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], KerasTensor)
        ):
            raise NotImplementedError("calling a model on symbolic tensors is not supported yet")
        return self.predict_on_batch(inputs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on this batch; returns its loss (and metrics)."""
        self._assert_compiled()
        if sample_weight is not None or class_weight is not None:
            raise NotImplementedError("train_on_batch: sample/class weights are not supported yet")
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        self._sync_compile(ys)
        self.optimizer.built = True
        self._core.reset_metrics()
        self._core.train_batches(xs, ys, None, xs[0].shape[0], 0, 1)
        logs = self._logs()
        return logs if return_dict else self._flatten_logs(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on this batch, without updating weights."""
        self._assert_compiled()
        if sample_weight is not None:
            raise NotImplementedError("test_on_batch: `sample_weight` is not supported yet")
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        self._sync_compile(ys)
        self._core.reset_metrics()
        self._core.test_batches(xs, ys, xs[0].shape[0], 0, 1)
        logs = self._logs()
        return logs if return_dict else self._flatten_logs(logs)

    def predict_on_batch(self, x):
        """The outputs for one batch (x as a whole)."""
        xs = self._prepare_inputs(x)
        return self._structure_outputs(self._core.predict(xs, max(xs[0].shape[0], 1)))

    # -- inspection -------------------------------------------------------------
    def _summary_layers(self):
        return self.layers

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints the layers, their output shapes and parameter counts, as Keras does."""
        rows = []
        for layer in self._summary_layers():
            shape = layer._calls[-1].outputs[0].shape if layer._calls else "?"
            rows.append((f"{layer.name} ({type(layer).__name__})",
                         summary_utils.format_shape(shape) if layer._calls else "?",
                         summary_utils.format_param_count(layer.count_params())))
        trainable = int(sum(np.prod(w.shape) for w in self.trainable_weights))
        total = self.count_params()
        optimizer_params = None
        if self.optimizer is not None and self.optimizer.built:
            # Keras counts the iteration and learning-rate scalars beside the slots.
            optimizer_params = 2 + len(self.optimizer._core.slot_names()) * trainable
        summary_utils.print_summary(
            self.name, rows, total + (optimizer_params or 0), trainable, total - trainable,
            line_length=line_length, positions=positions, print_fn=print_fn,
            optimizer_params=optimizer_params)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}
