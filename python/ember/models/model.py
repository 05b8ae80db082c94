"""`Model`: the functional API and everything compile/fit/evaluate/predict do.

The model's graph, weights, optimizer state, losses and metrics live in the
engine (`ember._core.Model`); this class turns Keras-style arguments into
engine calls. During fit, Python runs once per epoch - or once per batch when
a callback (or a live progress bar) asks for batch-level hooks.
"""

import array
import functools
import math
import threading
import time
import warnings

import numpy as np

from ember import _core, _data, ops, optimizers
from ember import losses as losses_module
from ember import metrics as metrics_module
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


def _check_loss_weights(loss_weights):
    """compile's `loss_weights`: None, or numbers (a list, or a dict by output name)."""
    if loss_weights is None:
        return
    values = loss_weights.values() if isinstance(loss_weights, dict) else loss_weights
    if not isinstance(loss_weights, (list, tuple, dict)) or not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            and math.isfinite(v) for v in values):
        raise TypeError("`loss_weights` must be a list of finite numbers (one per output) or a "
                        f"dict of them by output name, got {loss_weights!r}")


def _exclusive(method):
    """`method` holding the model's lock (see Model._run_lock)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._run_lock:
            return method(self, *args, **kwargs)
    return wrapper


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

    # -- threads ------------------------------------------------------------------
    @property
    def _run_lock(self):
        """One model, several threads: what spans several engine calls and shares the
        model's metrics, optimizer or weights (fit, evaluate, train/test_on_batch,
        compile, saving and loading weights) holds this lock, so those calls run one at
        a time; re-entrant, so a callback inside fit may evaluate, predict or save in
        the same thread. predict needs it only to build a Sequential: each engine call
        takes the engine's own lock, so predictions from other threads run between
        fit's steps and see the weights as of the last one."""
        lock = self.__dict__.get("_run_lock_")
        if lock is None:  # dict.setdefault is atomic: one lock even when threads race here
            lock = self.__dict__.setdefault("_run_lock_", threading.RLock())
        return lock

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
            emitted = call.layer._emit(graph, [nodes[id(t)] for t in call.inputs])
            for t, node in zip(call.outputs, emitted if isinstance(emitted, list) else [emitted]):
                nodes[id(t)] = node
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

    def _emit(self, graph, input_nodes):
        """Replays this model's layer calls into an outer graph: nested models share
        their layers (and weights) with the model they came from."""
        nodes = {id(t): node for t, node in zip(self.inputs, input_nodes)}
        for call in _calls_in_order(self.outputs):
            if isinstance(call.layer, InputLayer):
                continue
            emitted = call.layer._emit(graph, [nodes[id(t)] for t in call.inputs])
            for t, node in zip(call.outputs, emitted if isinstance(emitted, list) else [emitted]):
                nodes[id(t)] = node
        out = [nodes[id(t)] for t in self.outputs]
        return out if len(out) > 1 or isinstance(self._outputs_struct, (list, tuple, dict)) \
            else out[0]

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

    @_exclusive
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
    @_exclusive
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Sets the optimizer, loss(es) and metrics; the engine plans its buffers."""
        optimizer = optimizers.get(optimizer)
        if loss is not None:
            for each in _flatten(loss):
                losses_module.engine_spec(each)  # ValueError: unknown name, bad argument
        for argument, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if given and not isinstance(given, (list, tuple, dict)):
                raise ValueError(f"Expected `{argument}` argument to be a list, tuple, or dict. "
                                 f"Received instead: {argument}={given} of type {type(given)}")
            for each in _flatten(given) if given is not None else []:
                for one in _flatten(each) if each is not None else []:
                    metrics_module.check_compile_identifier(one)  # ValueError: unknown name
        _check_loss_weights(loss_weights)
        self.optimizer = optimizer
        self.loss = loss
        self._compile_config = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                                "weighted_metrics": weighted_metrics}
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
        compiled_metrics = self._compile_metrics(targets)
        metric_specs = [(m._core, o, weighted) for o, m, weighted in compiled_metrics]
        customs = [losses_module.custom_loss(lo) for lo in losses]
        graph_metrics = [(o, m) for o, m, _ in compiled_metrics
                         if metrics_module.is_graph_metric(m)]
        # Custom losses and metrics are recorded for the targets' shapes: new shapes,
        # new recordings.
        recorded_for = (tuple(id(lo) for lo in losses), tuple(t.shape[1:] for t in targets)) \
            if graph_metrics or any(customs) else None
        spec = ([losses_module.engine_spec(lo, w) for lo, w in zip(losses, weights)],
                metric_specs, recorded_for)
        if spec != self._compiled_spec:
            for o, custom in enumerate(customs):
                self._set_graph_loss(o, custom, targets[o].shape[1:])
            self._core.clear_graph_metrics()
            for o, metric in graph_metrics:
                fn, kwargs = metric._fn, dict(metric._fn_kwargs)
                self._core.set_graph_metric(metric._core, *self._record_function_of_targets(
                    o, lambda t, p, fn=fn, kw=kwargs: fn(t, p, **kw), targets[o].shape[1:],
                    f"The custom metric {metric.name!r}"))
            self._core.compile(spec[0], self.optimizer._core, spec[1])
            self._compiled_spec = spec
        if self._pending_optimizer_state is not None:
            state, self._pending_optimizer_state = self._pending_optimizer_state, None
            self._set_optimizer_state(state)

    def _set_graph_loss(self, o, custom, target_row):
        """Records a custom loss (a function of ember.ops) for output o into a graph of
        its own: y_true and y_pred placeholders in, per-sample values out (None: the
        output's built-in loss)."""
        if custom is None:
            self._core.set_graph_loss(o, None, -1, -1, -1)
            return
        fn, _, align = custom
        name = getattr(fn, "__name__", None) or type(fn).__name__
        self._core.set_graph_loss(o, *self._record_function_of_targets(
            o, fn, target_row, f"The custom loss {name!r}", align=align))

    def _record_function_of_targets(self, o, fn, target_row, what, align=True):
        """fn(y_true, y_pred) recorded into a graph of its own, for output o:
        (graph, y_pred input, y_true input, values node). With `align`, the two are
        first brought to the same rank as Keras's loss and metric wrappers do."""
        pred_row = tuple(self.outputs[o].shape[1:])
        target_row = tuple(target_row)
        graph = _core.Graph()
        pred = graph.add_input(list(pred_row), "y_pred")
        true = graph.add_input(list(target_row), "y_true")

        def aligned(y_true, y_pred):
            if align:
                y_true, y_pred = losses_module.squeeze_or_expand_to_same_rank(y_true, y_pred)
            return fn(y_true, y_pred)

        value = ops.record(graph, aligned,
                           [ops.GraphTensor(graph, true), ops.GraphTensor(graph, pred)], what)
        return graph, pred, true, value

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
            # Optimizer-wide scalars besides these (Nadam's u_product).
            "scalar_names": list(core.scalar_names()),
            "scalars": list(core.scalar_state()),
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
        if state.get("scalars"):
            core.set_scalar_state([float(v) for v in state["scalars"]])
        self.optimizer.built = True

    def _compile_metrics(self, targets):
        """compile's metrics as (output, metric object, weighted), built once per compile
        from the first targets seen, as Keras builds its CompileMetrics: the metrics of
        each output in order, then the weighted metrics. Also names their logs
        (`_metric_names`) as Keras's CompileMetrics.result does - prefixed by the output
        name with several outputs, "_1", "_2" on repeats, "weighted_" for a weighted
        metric whose name is taken - and keeps their own names (`_metric_raw_names`)
        for evaluate's list order."""
        cached = getattr(self, "_compiled_metrics", None)
        if cached is not None and cached[0] is self._compile_config:
            return cached[1]
        entries = []
        for weighted, argument in ((False, "metrics"), (True, "weighted_metrics")):
            for o, ids in enumerate(self._metrics_per_output(argument)):
                for each in ids:
                    metric = metrics_module.compile_metric(each, targets[o].shape,
                                                           self.outputs[o].shape)
                    entries.append((o, metric, weighted))
        multi = len(self.outputs) > 1
        names, counters = [], {}
        for o, metric, weighted in entries:
            prefix = f"{self._output_names()[o]}_" if multi else ""
            name = prefix + metric.name
            if name not in counters:
                counters[name] = 1
            elif not weighted:
                index = counters[name]
                counters[name] += 1
                name = f"{name}_{index}"
            else:
                name = f"{prefix}weighted_{metric.name}"
                if name not in counters:
                    counters[name] = 1
                else:
                    index = counters[name]
                    counters[name] += 1
                    name = f"{name}_{index}"
            names.append(name)
        self._metric_names = names
        self._metric_raw_names = [m.name for _, m, _ in entries]
        self._vector_metrics = any(m._core.vector_result for _, m, _ in entries)
        self._compiled_metrics = (self._compile_config, entries)
        return entries

    def _metrics_per_output(self, argument="metrics"):
        """compile's `metrics` (or `weighted_metrics`) as one list of identifiers per
        output, as Keras reads it: a list (single output), or a dict by output name / a
        list with one entry per output (several outputs)."""
        metrics = self._compile_config.get(argument)
        names = self._output_names()
        if metrics is None:
            return [[] for _ in names]
        if isinstance(metrics, dict):
            unknown = set(metrics) - set(names)
            if unknown:
                raise ValueError(f"`{argument}` dict has keys {sorted(unknown)} that are not "
                                 f"output names of the model: {names}")
            return [_flatten(metrics[n]) if metrics.get(n) is not None else [] for n in names]
        if len(names) == 1:
            return [_flatten(metrics)]
        if not isinstance(metrics, (list, tuple)) or len(metrics) != len(names):
            raise ValueError(
                f"Invalid `{argument}`. `{argument}` should contain metrics objects and either "
                f"be a dict or a list matching the output names of the functional model {names}. "
                f"Received: {argument}={metrics}"
            )
        return [_flatten(m) if m is not None else [] for m in metrics]

    def _log_names(self):
        """Names of the engine's results, in its order: loss, per-output losses (several
        outputs only), then the metrics."""
        losses = [f"{n}_loss" for n in self._output_names()] if len(self.outputs) > 1 else []
        return ["loss"] + losses + list(getattr(self, "_metric_names", []))

    @property
    def metrics_names(self):
        """As Keras 3 reports them: "loss", "compile_metrics" when metrics were given, and
        the per-output losses of a multi-output model."""
        if not self.compiled:
            return []
        names = ["loss"]
        if any(self._metrics_per_output()) or any(self._metrics_per_output("weighted_metrics")):
            names.append("compile_metrics")
        if len(self.outputs) > 1:
            names += [f"{n}_loss" for n in self._output_names()]
        return names

    # -- data -------------------------------------------------------------------
    def _prepare_inputs(self, x):
        if self._core is None:
            with self._run_lock:  # two threads' first predict build a Sequential once
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
            spec = losses_module.engine_spec(loss)
            kernel = spec.name
            if losses_module.custom_loss(loss) is not None:
                continue  # a custom loss takes the targets as they come
            out_shape = out.shape[1:]
            if kernel == "sparse_categorical_crossentropy":
                labels_shape = out_shape[:-1]
                if t.shape[1:] not in (labels_shape, labels_shape + (1,)):
                    raise ValueError(
                        f"sparse_categorical_crossentropy expects integer labels of shape "
                        f"{(None,) + labels_shape}, got y of shape {t.shape} for output "
                        f"shape {out.shape}."
                    )
                losses_module.check_sparse_labels(t, out_shape[-1], spec.ignore_class)
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
        return int(min(batch_size, 2**62))  # a batch past the data is the data: no overflow

    def _logs(self):
        # Keras's metrics are float32: round the engine's double sums the same way, so the
        # logs hold Keras's numbers (and a loss past float32's range reads inf, as there).
        # array("f") rounds to nearest and overflows to inf silently, in well under 1 us.
        values = array.array("f", self._core.metric_results()).tolist()
        names = self._log_names()
        if not getattr(self, "_vector_metrics", False):
            return dict(zip(names, values))
        # A metric with a vector result (F1Score with average=None, ...) fills several
        # entries of the engine's list; its log is a float32 array, as Keras's History holds.
        metrics = [m for _, m, _ in self._compiled_metrics[1]]
        first = len(names) - len(metrics)
        logs = dict(zip(names[:first], values[:first]))
        at = first
        for name, metric in zip(names[first:], metrics):
            if metric._core.vector_result:
                logs[name] = np.asarray(metric._core.result(), np.float32)
                at += logs[name].size
            else:
                logs[name] = values[at]
                at += 1
        return logs

    # -- training ---------------------------------------------------------------
    @_exclusive
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for `epochs` epochs; returns a History whose `.history` holds the
        per-epoch logs (`loss`, metrics, and `val_`-prefixed ones with validation)."""
        self._assert_compiled()
        if validation_steps is not None:
            raise NotImplementedError("fit: `validation_steps` is not supported yet")
        if steps_per_epoch is not None and (
                not isinstance(steps_per_epoch, (int, np.integer)) or steps_per_epoch <= 0):
            raise ValueError(f"`steps_per_epoch` must be a positive integer, got "
                             f"{steps_per_epoch!r}")
        batch_size = self._batch_size(batch_size)
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer, got {epochs!r}")
        xs = self._prepare_inputs(x)
        n = xs[0].shape[0]
        ys = self._prepare_targets(y, n)
        if sample_weight is not None and class_weight is not None:
            raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
        # Sample weights are split with the data; class weights weight the training part only.
        sws = self._prepare_sample_weights(sample_weight, None, ys, n)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                                 "(x_val, y_val, val_sample_weight).")
            vx = self._prepare_inputs(validation_data[0])
            vn = vx[0].shape[0]
            vy = self._prepare_targets(validation_data[1], vn)
            vsw = validation_data[2] if len(validation_data) == 3 else None
            val = (vx, vy, self._prepare_sample_weights(vsw, None, vy, vn))
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
            val = ([a[split_at:] for a in xs], [a[split_at:] for a in ys],
                   None if sws is None else [None if w is None else w[split_at:] for w in sws])
            xs, ys = [a[:split_at] for a in xs], [a[:split_at] for a in ys]
            sws = None if sws is None else [None if w is None else w[:split_at] for w in sws]
            n = split_at
        if class_weight is not None:
            sws = self._prepare_sample_weights(None, class_weight, ys, n)
        self._sync_compile(ys)
        self.optimizer.built = True
        val_batch_size = self._batch_size(validation_batch_size, batch_size)
        batches = math.ceil(n / batch_size)
        steps = int(steps_per_epoch) if steps_per_epoch else batches
        # params["verbose"] stays "auto" as in Keras; the progress bar reads it as 1.
        cbs = CallbackList(callbacks, add_history=True, add_progbar=bool(verbose), model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        per_batch = cbs.listens_per_batch("train")
        chunked = cbs.only_progress_per_batch("train")
        self.stop_training = False
        cbs.on_train_begin()
        logs = {}
        # With steps_per_epoch, as Keras's epoch iterator: a pass over the data continues
        # from epoch to epoch; an epoch that reaches the end of the data stops there
        # (with Keras's warning), and the next epoch starts a new (reshuffled) pass.
        position, order = 0, None
        for epoch in range(initial_epoch, epochs):
            self._core.reset_metrics()
            cbs.on_epoch_begin(epoch)
            if position == 0:
                order = _random.generator().permutation(n) if shuffle else None
            run = min(steps, batches - position)
            if run < steps:
                warnings.warn(
                    "Your input ran out of data; interrupting training. Make sure that your "
                    "dataset or generator can generate at least `steps_per_epoch * epochs` "
                    f"batches. You may need to use the `.repeat()` function when building your "
                    f"dataset. (ember: this epoch ran {run} of {steps} steps.)", stacklevel=2)
            if per_batch:
                self._train_with_batch_hooks(xs, ys, sws, order, batch_size, run, cbs, chunked,
                                             first=position)
            else:
                self._core.train_batches(xs, ys, order, batch_size, position, position + run,
                                         sample_weights=sws)
            position = 0 if position + run >= batches else position + run
            logs = self._logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._test(val[0], val[1], val_batch_size, cbs, in_fit=True,
                                      sws=val[2])
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return cbs.history

    def _prepare_sample_weights(self, sample_weight, class_weight, ys, n):
        """fit/evaluate's `sample_weight` and `class_weight` -> one (n,) float32 array (or
        None) per output for the engine, or None when nothing is weighted. As Keras: one
        array weights every output; class weights (single output only) come from the
        labels (argmax of one-hot rows, else the rounded value) and multiply."""
        if sample_weight is None and class_weight is None:
            return None
        outputs = len(self.outputs)
        if sample_weight is None:
            weights = [None] * outputs
        elif isinstance(sample_weight, dict):
            weights = [sample_weight.get(name) for name in self._output_names()]
        elif outputs > 1 and isinstance(sample_weight, (list, tuple)):
            if len(sample_weight) != outputs:
                raise ValueError(f"`sample_weight` has {len(sample_weight)} entries for a model "
                                 f"with {outputs} outputs.")
            weights = list(sample_weight)
        else:
            weights = [sample_weight] * outputs
        for o, w in enumerate(weights):
            if w is None:
                continue
            w = _data.to_array(w, "sample_weight")
            if w.shape[0] != n or w.size != n:
                raise ValueError(f"`sample_weight` must hold one weight per sample, shape ({n},); "
                                 f"got shape {w.shape}.")
            weights[o] = w.reshape(n)
        if class_weight is not None:
            if outputs > 1:
                raise ValueError("`class_weight` is only supported for Models with a single "
                                 "output.")
            if not isinstance(class_weight, dict):
                raise ValueError(f"`class_weight` must be a dict mapping class ids to weights, "
                                 f"got {type(class_weight).__name__}.")
            y = ys[0]
            labels = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
            labels = np.round(labels).astype(np.int64)
            from_classes = np.array([class_weight.get(int(c), 1.0) for c in labels], np.float32)
            weights[0] = from_classes if weights[0] is None else weights[0] * from_classes
        return [None if w is None else np.ascontiguousarray(w, np.float32) for w in weights]

    def _train_with_batch_hooks(self, xs, ys, sws, order, batch_size, steps, cbs, chunked,
                                first=0):
        """One epoch with batch-level hooks: `steps` batches from batch `first` of the
        data. When only the progress bar listens, batches run in chunks that double
        until one takes ~10 ms, so the bar still moves smoothly but Python is not
        entered per batch."""
        step, chunk = 0, 1
        while step < steps and not self.stop_training:
            end = min(step + chunk, steps)
            cbs.on_train_batch_begin(step)
            start = time.perf_counter()
            self._core.train_batches(xs, ys, order, batch_size, first + step, first + end,
                                     sample_weights=sws)
            if chunked and time.perf_counter() - start < 0.01:
                chunk *= 2
            cbs.on_train_batch_end(end - 1, self._logs())
            step = end

    def _test(self, xs, ys, batch_size, cbs, in_fit=False, sws=None):
        steps = math.ceil(xs[0].shape[0] / batch_size)
        self.stop_evaluating = False
        self._core.reset_metrics()
        cbs.on_test_begin()
        if cbs.listens_per_batch("test"):
            for step in range(steps):
                cbs.on_test_batch_begin(step)
                self._core.test_batches(xs, ys, batch_size, step, step + 1, sample_weights=sws)
                cbs.on_test_batch_end(step, self._logs())
                if self.stop_evaluating:
                    break
        else:
            self._core.test_batches(xs, ys, batch_size, 0, steps, sample_weights=sws)
        logs = self._logs()
        cbs.on_test_end(logs)
        return logs

    def _flatten_logs(self, logs):
        """evaluate's list, in Keras's order (Trainer._flatten_metrics_in_order): the logs
        named like the model's metrics - loss, each compiled metric's own name (so a
        multi-output model's prefixed metrics are not among them, and a name compiled
        twice repeats its value, as in Keras), the per-output losses - then every other
        key sorted."""
        first = ["loss"] + list(getattr(self, "_metric_raw_names", []))
        if len(self.outputs) > 1:
            first += [f"{n}_loss" for n in self._output_names()]
        values = [logs[k] for k in first if k in logs]
        values += [logs[k] for k in sorted(logs) if k not in first]
        return values[0] if len(values) == 1 else values

    @_exclusive
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """The loss (and metrics) over the data: a scalar, a list, or a dict."""
        self._assert_compiled()
        if steps is not None:
            raise NotImplementedError("evaluate: `steps` is not supported yet")
        batch_size = self._batch_size(batch_size)
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        self._sync_compile(ys)
        cbs = CallbackList(callbacks, add_progbar=bool(verbose), model=self, verbose=verbose,
                           epochs=1, steps=math.ceil(xs[0].shape[0] / batch_size))
        sws = self._prepare_sample_weights(sample_weight, None, ys, xs[0].shape[0])
        logs = self._test(xs, ys, batch_size, cbs, sws=sws)
        return logs if return_dict else self._flatten_logs(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as NumPy arrays (a list for several outputs)."""
        if steps is not None:
            raise NotImplementedError("predict: `steps` is not supported yet")
        batch_size = self._batch_size(batch_size)
        xs = self._prepare_inputs(x)
        if verbose or callbacks:
            cbs = CallbackList(callbacks, add_progbar=bool(verbose), model=self, verbose=verbose,
                               epochs=1, steps=math.ceil(xs[0].shape[0] / batch_size))
            self.stop_predicting = False
            cbs.on_predict_begin()
            if cbs.listens_per_batch("predict"):
                outs = self._predict_with_batch_hooks(xs, batch_size, cbs)
            else:
                outs = self._core.predict(xs, batch_size)
            cbs.on_predict_end()
        else:
            outs = self._core.predict(xs, batch_size)
        return self._structure_outputs(outs)

    def _predict_with_batch_hooks(self, xs, batch_size, cbs):
        """predict one batch per engine call, so callbacks see each batch's outputs."""
        n = xs[0].shape[0]
        chunks = []
        for step in range(math.ceil(n / batch_size)):
            cbs.on_predict_batch_begin(step)
            begin = step * batch_size
            outs = self._core.predict([a[begin:begin + batch_size] for a in xs], batch_size)
            chunks.append(outs)
            cbs.on_predict_batch_end(step, {"outputs": self._structure_outputs(outs)})
            if self.stop_predicting:
                break
        if not chunks:
            return self._core.predict(xs, batch_size)
        return [np.concatenate(parts) for parts in zip(*chunks)]

    def _structure_outputs(self, outs):
        if isinstance(self._outputs_struct, dict):
            return dict(zip(self._outputs_struct, outs))
        return outs[0] if len(outs) == 1 and not isinstance(self._outputs_struct, (list, tuple)) \
            else list(outs)

    def __call__(self, inputs, training=None, **kwargs):
        flat = _flatten(inputs)
        if any(isinstance(t, KerasTensor) for t in flat):
            if isinstance(inputs, dict):
                inputs = [inputs[t._call.layer.name] for t in self.inputs]
            return super().__call__(inputs if len(flat) > 1 else flat[0], training=training)
        return self.predict_on_batch(inputs)

    @_exclusive
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on this batch; returns its loss (and metrics)."""
        self._assert_compiled()
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        sws = self._prepare_sample_weights(sample_weight, class_weight, ys, xs[0].shape[0])
        self._sync_compile(ys)
        self.optimizer.built = True
        self._core.reset_metrics()
        self._core.train_batches(xs, ys, None, xs[0].shape[0], 0, 1, sample_weights=sws)
        logs = self._logs()
        return logs if return_dict else self._flatten_logs(logs)

    @_exclusive
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on this batch, without updating weights."""
        self._assert_compiled()
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        sws = self._prepare_sample_weights(sample_weight, None, ys, xs[0].shape[0])
        self._sync_compile(ys)
        self._core.reset_metrics()
        self._core.test_batches(xs, ys, xs[0].shape[0], 0, 1, sample_weights=sws)
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
            # Keras counts its scalar variables beside the slots: the iteration, the
            # learning rate unless a schedule computes it, and extras such as Nadam's.
            core = self.optimizer._core
            scalars = 1 + (core.schedule is None) + len(core.scalar_names())
            optimizer_params = scalars + len(core.slot_names()) * trainable
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

    @_exclusive
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the whole model: `.keras` (Keras 3's zip) or `.h5` (Keras's legacy HDF5)."""
        from ember.saving import saving_api
        return saving_api.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    @_exclusive
    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Saves the weights (and optimizer state) in Keras 3's `.weights.h5` layout."""
        from ember.saving import saving_api
        return saving_api.save_weights(self, filepath, overwrite=overwrite,
                                       max_shard_size=max_shard_size)

    @_exclusive
    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights from a `.weights.h5`, `.keras` or legacy `.h5` file."""
        from ember.saving import saving_api
        return saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)
