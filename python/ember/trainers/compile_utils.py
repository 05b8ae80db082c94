"""compile's arguments, output by output: the losses and their weights, the
metrics (built from the first targets seen, as Keras's CompileMetrics), the custom
losses and metrics recorded as graphs, and the names of the logs they produce."""

import array
import math

import numpy as np

from ember import _core, _ops, ops
from ember import losses as losses_module
from ember import metrics as metrics_module
from ember.models.functional import flatten


def check_loss_weights(loss_weights):
    """compile's `loss_weights`: None, or numbers (a list, or a dict by output name)."""
    if loss_weights is None:
        return
    values = loss_weights.values() if isinstance(loss_weights, dict) else loss_weights
    if not isinstance(loss_weights, (list, tuple, dict)) or not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            and math.isfinite(v) for v in values):
        raise TypeError("`loss_weights` must be a list of finite numbers (one per output) or a "
                        f"dict of them by output name, got {loss_weights!r}")


class CompiledLossesAndMetrics:
    """What the compile arguments mean for each output of the model (mixed into Trainer)."""

    # -- losses ----------------------------------------------------------------
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
        metric_specs = [(m._core, o, weighted) for o, m, weighted in compiled_metrics
                        if not metrics_module.is_python_metric(m)]
        customs = [losses_module.custom_loss(lo) for lo in losses]
        graph_metrics = [(o, m) for o, m, _ in compiled_metrics
                         if metrics_module.is_graph_metric(m)]
        # Custom losses and metrics are recorded for the targets' shapes: new shapes,
        # new recordings.
        recorded_for = (tuple(id(lo) for lo in losses), tuple(t.shape[1:] for t in targets)) \
            if graph_metrics or any(customs) else None
        spec = ([losses_module.engine_spec(lo, w, (None,) + tuple(out.shape[1:]), t.shape)
                 for lo, w, out, t in zip(losses, weights, self.outputs, targets)],
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
            # Muon decides per variable from the variables' paths; a Python subclass
            # builds its state (Keras builds the optimizer on the first step).
            self.optimizer._prepare_variables(self.trainable_variables)
            for variable in self.trainable_variables:  # regularizers of your own
                penalty = getattr(variable, "_penalty_graph", None)
                if penalty is not None:
                    self._core.set_weight_penalty_graph(variable._core, *penalty)
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

        value = _ops.record(graph, aligned,
                           [ops.GraphTensor(graph, true), ops.GraphTensor(graph, pred)], what)
        return graph, pred, true, value

    # -- metrics ---------------------------------------------------------------
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
        self._vector_metrics = any(metrics_module.is_python_metric(m) or m._core.vector_result
                                   for _, m, _ in entries)
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
            return [flatten(metrics[n]) if metrics.get(n) is not None else [] for n in names]
        if len(names) == 1:
            return [flatten(metrics)]
        if not isinstance(metrics, (list, tuple)) or len(metrics) != len(names):
            raise ValueError(
                f"Invalid `{argument}`. `{argument}` should contain metrics objects and either "
                f"be a dict or a list matching the output names of the functional model {names}. "
                f"Received: {argument}={metrics}"
            )
        return [flatten(m) if m is not None else [] for m in metrics]

    # -- log names -------------------------------------------------------------
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
            if metrics_module.is_python_metric(metric):  # computed per batch in Python
                result = np.asarray(metric.result(), np.float32)
                logs[name] = float(result) if result.ndim == 0 else result
            elif metric._core.vector_result:
                logs[name] = np.asarray(metric._core.result(), np.float32)
                at += logs[name].size
            else:
                logs[name] = values[at]
                at += 1
        return logs

    # -- Python metrics (Metric subclasses): updated per batch, outside the engine ------
    def _python_metrics(self):
        entries = getattr(self, "_compiled_metrics", None)
        if entries is None:
            return []
        return [(o, m, w) for o, m, w in entries[1] if metrics_module.is_python_metric(m)]

    def _reset_metrics(self):
        self._core.reset_metrics()
        for _, metric, _ in self._python_metrics():
            metric.reset_state()

    def _run_batches(self, training, xs, ys, order, batch_size, begin, end, sws=None):
        """The engine's train_batches/test_batches over batches [begin, end); with
        Python metrics compiled, one batch at a time, each followed by their
        update_state on the batch's targets and the outputs the engine computed."""
        python = self._python_metrics()
        if not python:
            if training:
                self._core.train_batches(xs, ys, order, batch_size, begin, end,
                                         sample_weights=sws)
            else:
                self._core.test_batches(xs, ys, batch_size, begin, end, sample_weights=sws)
            return
        n = xs[0].shape[0]
        for b in range(begin, end):
            if training:
                self._core.train_batches(xs, ys, order, batch_size, b, b + 1, sample_weights=sws)
            else:
                self._core.test_batches(xs, ys, batch_size, b, b + 1, sample_weights=sws)
            rows = np.arange(b * batch_size, min(n, (b + 1) * batch_size))
            if training and order is not None:
                rows = np.asarray(order)[rows]
            outputs = self._core.last_outputs()
            for o, metric, weighted in python:
                weights = sws[o] if weighted and sws is not None else None
                if weights is not None:
                    metric.update_state(ys[o][rows], outputs[o], sample_weight=weights[rows])
                else:
                    metric.update_state(ys[o][rows], outputs[o])

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
