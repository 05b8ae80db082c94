"""`ember.callbacks`: the Callback base with every hook Keras calls, History, the
progress bar logger, and Keras 3's built-in callbacks (EarlyStopping,
ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN,
LambdaCallback), with Keras's semantics down to the float32 comparisons.

fit/evaluate/predict ask the CallbackList whether anything listens per batch;
when nothing does, a whole epoch runs in one engine call. Every callback here
except TerminateOnNaN (and the live progress bar) acts per epoch.
"""

import collections
import csv
import os
import warnings

import numpy as np

from ember.utils.progbar import Progbar, _write

_BATCH_HOOKS = {
    "train": ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _print_msg(message):
    """Keras's `io_utils.print_msg`: a line to the current stdout, flushed (by rank 0
    only under ember.distribution, where every rank decides alike)."""
    if _writes_files():
        _write(f"{message}\n")


def _writes_files():
    """False on the ranks other than 0 of a data-parallel job: those neither print
    nor write files (rank 0 does, for all)."""
    from ember.distribution import distribution_lib
    return distribution_lib.data_parallel_world() is None or distribution_lib.writes_files()


def _pythonify_logs(logs):
    """What Keras's CallbackList hands each callback: a fresh dict, keys sorted,
    nested dicts flattened, values made Python floats where they convert."""
    if not logs:
        return {}
    result = {}
    for key, value in sorted(logs.items()):
        if type(value) is float:  # what fit's logs hold: nothing to convert
            result[key] = value
            continue
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
            continue
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(())  # float() of it, without NumPy's ndim>0 warning
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


class Callback:
    """Base class: override the hooks you need. `self.model` and `self.params`
    (`verbose`, `epochs`, `steps`) are set before training starts."""

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_end`."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch (fit only)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch with its logs: the metrics, and `val_`
        prefixed ones when validation ran."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch with the metrics averaged over the epoch so far."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before a batch of evaluate, or of validation in fit."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after a batch of evaluate or validation, with the running metrics."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before a batch of predict."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after a batch of predict; `logs["outputs"]` holds its outputs."""

    def on_train_begin(self, logs=None):
        """Called at the beginning of fit."""

    def on_train_end(self, logs=None):
        """Called at the end of fit with the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """Called at the beginning of evaluate or of a validation pass."""

    def on_test_end(self, logs=None):
        """Called at the end of evaluate or of a validation pass with its metrics."""

    def on_predict_begin(self, logs=None):
        """Called at the beginning of predict."""

    def on_predict_end(self, logs=None):
        """Called at the end of predict."""

    def _listens_per_batch(self, mode):
        """True when a per-batch hook of `mode` ("train", "test", "predict") is overridden,
        by the subclass or on the instance, so the loop must return to Python per batch."""
        return any(getattr(type(self), h) is not getattr(Callback, h) or h in self.__dict__
                   for h in _BATCH_HOOKS[mode])


class History(Callback):
    """Records the epoch logs: `history.history["loss"]` and so on; fit returns it."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self

    def plot(self, metrics=None, figsize=None, dpi=100, title=None, to_file=None):
        """Draws loss and every metric per epoch, training and validation, with matplotlib
        (the chart `LiveChart` shows) and returns the Figure; `metrics` picks panels by
        name, `to_file` also saves it as a PNG."""
        from ember.visualization import chart

        panels = chart.panels(self.history, metrics=metrics)
        figure = chart.draw(chart.new_figure(len(panels), figsize, dpi), panels, title)
        if to_file is not None:
            chart.save_png(figure, os.fspath(to_file))
        return figure


class ProgbarLogger(Callback):
    """Prints Keras's progress bar: a live bar per epoch at verbose=1, one line per
    epoch at verbose=2."""

    _rank_zero_only = True  # under ember.distribution: rank 0 draws the bar

    def __init__(self):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.progbar = None
        self.seen = 0  # batches of this epoch so far
        self._in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _listens_per_batch(self, mode):
        # The live bar needs each batch; one line per epoch needs only the end. Validation
        # inside fit and predict draw nothing per batch.
        if mode == "predict" or (mode == "test" and self._in_fit):
            return False
        return self.verbose == 1 and Progbar(1, verbose=0)._dynamic_display

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self.progbar = Progbar(self.target, verbose=self.verbose, unit_name="step")
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.progbar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def _final_step(self):
        # Data of unknown length (a generator) has its steps counted by its first pass,
        # as Keras's bar does.
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        return self.target

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(self._final_step(), list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self.progbar = Progbar(self.target, verbose=self.verbose, unit_name="step")

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self.seen = batch + 1
            self.progbar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self.progbar.update(self._final_step(), list((logs or {}).items()), finalize=True)

    def on_predict_begin(self, logs=None):
        self.progbar = Progbar(self.target, verbose=self.verbose, unit_name="step")

    def on_predict_batch_end(self, batch, logs=None):
        self.seen = batch + 1  # predict draws nothing per batch; counted for _final_step

    def on_predict_end(self, logs=None):
        self.progbar.update(self._final_step(), finalize=True)


def _flatten_callbacks(callbacks):
    out = []
    for cb in callbacks:
        if isinstance(cb, (list, tuple)):
            out.extend(_flatten_callbacks(cb))
        else:
            out.append(cb)
    return out


def _logs_hook(name):
    """A CallbackList hook called as Keras calls it: `hook(logs)`."""

    def dispatch(self, logs=None):
        logs = _pythonify_logs(logs)
        for cb in self.callbacks:
            getattr(cb, name)(logs)

    dispatch.__name__ = name
    return dispatch


def _epoch_hook(name):
    """`hook(epoch, logs)`, logs positional."""

    def dispatch(self, epoch, logs=None):
        logs = _pythonify_logs(logs)
        for cb in self.callbacks:
            getattr(cb, name)(epoch, logs)

    dispatch.__name__ = name
    return dispatch


def _batch_hook(name):
    """`hook(batch, logs=logs)`, logs by keyword."""

    def dispatch(self, batch, logs=None):
        logs = _pythonify_logs(logs)
        for cb in self.callbacks:
            getattr(cb, name)(batch, logs=logs)

    dispatch.__name__ = name
    return dispatch


class CallbackList(Callback):
    """Dispatches each hook to every callback, in order, each receiving the same
    fresh dict of logs (sorted keys), so what one callback adds (ReduceLROnPlateau's
    `learning_rate`) the ones after it see, as in Keras. History and the progress
    bar are added after the user's callbacks unless the user passed their own."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = _flatten_callbacks(callbacks) if callbacks else []
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r}")
        if not _writes_files():  # another rank than 0: it draws and writes nothing
            self.callbacks = [cb for cb in self.callbacks
                              if not getattr(cb, "_rank_zero_only", False)]
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self.set_model(model)
        self.set_params(params)

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for cb in self.callbacks:
            cb.set_model(model)

    def listens_per_batch(self, mode):
        return any(cb._listens_per_batch(mode) for cb in self.callbacks)

    def _listens_per_batch(self, mode):
        return self.listens_per_batch(mode)

    def only_progress_per_batch(self, mode):
        """True when the live progress bar is the only per-batch listener: it redraws at
        most every 50 ms, so batches may run in chunks between its updates."""
        return all(isinstance(cb, ProgbarLogger) for cb in self.callbacks
                   if cb._listens_per_batch(mode))

    on_train_begin = _logs_hook("on_train_begin")
    on_train_end = _logs_hook("on_train_end")
    on_test_begin = _logs_hook("on_test_begin")
    on_test_end = _logs_hook("on_test_end")
    on_predict_begin = _logs_hook("on_predict_begin")
    on_predict_end = _logs_hook("on_predict_end")
    on_epoch_begin = _epoch_hook("on_epoch_begin")
    on_epoch_end = _epoch_hook("on_epoch_end")
    on_batch_begin = _batch_hook("on_batch_begin")
    on_batch_end = _batch_hook("on_batch_end")
    on_train_batch_begin = _batch_hook("on_train_batch_begin")
    on_train_batch_end = _batch_hook("on_train_batch_end")
    on_test_batch_begin = _batch_hook("on_test_batch_begin")
    on_test_batch_end = _batch_hook("on_test_batch_end")
    on_predict_batch_begin = _batch_hook("on_predict_batch_begin")
    on_predict_batch_end = _batch_hook("on_predict_batch_end")


class LambdaCallback(Callback):
    """Callbacks from plain functions, e.g. `LambdaCallback(on_epoch_end=lambda e, logs: ...)`.

    `on_epoch_begin`/`on_epoch_end` are called as `fn(epoch, logs)`, `on_train_begin`/
    `on_train_end` as `fn(logs)`, batch hooks as `fn(batch, logs=logs)`; any other hook
    of `Callback` may be given by keyword (`on_test_end=...`)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        named = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for name, fn in named.items():
            if fn is not None:
                setattr(self, name, fn)


# -- monitoring a metric ---------------------------------------------------------
# Keras decides "auto" mode from the compiled metric's `_direction`; these are the
# metrics whose direction is "up" / "down" there, by name with case and underscores
# dropped (so "binary_accuracy", "BinaryAccuracy" and the function all match).
_UP = frozenset({
    "accuracy", "acc", "binaryaccuracy", "categoricalaccuracy", "sparsecategoricalaccuracy",
    "topkcategoricalaccuracy", "sparsetopkcategoricalaccuracy", "auc", "precision", "recall",
    "precisionatrecall", "recallatprecision", "sensitivityatspecificity",
    "specificityatsensitivity", "f1score", "fbetascore", "iou", "binaryiou", "meaniou",
    "onehotiou", "onehotmeaniou", "r2score", "cosinesimilarity", "pearsoncorrelation",
    "concordancecorrelation",
})
_DOWN = frozenset({
    "mse", "meansquarederror", "mae", "meanabsoluteerror", "mape",
    "meanabsolutepercentageerror", "msle", "meansquaredlogarithmicerror",
    "rootmeansquarederror", "logcosherror", "logcosh", "bce", "binarycrossentropy",
    "categoricalcrossentropy", "sparsecategoricalcrossentropy", "hinge", "squaredhinge",
    "categoricalhinge", "kldivergence", "kld", "poisson", "huber",
})


def _direction_of(identifier):
    """"up", "down" or None for a compile metric identifier (string, function, class
    or instance), as Keras's `_direction` of the metric it builds."""
    direction = getattr(identifier, "_direction", None)
    if direction in ("up", "down"):
        return direction
    names = []
    if isinstance(identifier, str):
        names.append(identifier)
    else:
        names.append(getattr(identifier, "__name__", type(identifier).__name__))
        fn = getattr(type(identifier), "fn", None) or getattr(identifier, "fn", None)
        if fn is not None:
            names.append(getattr(fn, "__name__", ""))
    for name in names:
        key = name.lower().replace("_", "")
        if key in _UP:
            return "up"
        if key in _DOWN:
            return "down"
    return None


def _flatten_metrics(metrics):
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        metrics = list(metrics.values())
    if not isinstance(metrics, (list, tuple)):
        return [metrics]
    out = []
    for m in metrics:
        out.extend(_flatten_metrics(m) if isinstance(m, (list, tuple, dict)) else [m])
    return out


def _compiled_metric_direction(model, name):
    """The direction of the model's compiled metric called `name`, or None. As in Keras
    the metric's own name is matched, without a multi-output model's output prefix."""
    from ember import metrics as metrics_module

    config = getattr(model, "_compile_config", None) or {}
    for identifier in _flatten_metrics(config.get("metrics")):
        if identifier is None:
            continue
        try:
            metric_name = metrics_module.compile_name(identifier)
        except ValueError:
            continue
        if metric_name == name:
            return _direction_of(identifier)
    return None


class MonitorCallback(Callback):
    """Base for callbacks that watch a metric (EarlyStopping, ReduceLROnPlateau,
    ModelCheckpoint): picks "less" or "greater" from `mode`, or in "auto" mode from
    the monitored metric, and judges improvements by `min_delta`.

    Improvements are compared in float32, as Keras's `ops.less`/`ops.greater` do.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ["auto", "min", "max"]:
            warnings.warn(f"{self.__class__.__name__} mode '{mode}' is unknown, fallback "
                          "to auto mode.", stacklevel=2)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            metric_name = self.monitor.removeprefix("val_")
            if metric_name == "loss":
                self.monitor_op = np.less
            direction = _compiled_metric_direction(self.model, metric_name)
            if direction == "up":
                self.monitor_op = np.greater
            elif direction == "down":
                self.monitor_op = np.less
            if self.monitor_op is None:
                raise ValueError(
                    f"{self.__class__.__name__} callback received monitor={self.monitor}, "
                    "but Keras isn't able to automatically determine whether that metric "
                    "should be maximized or minimized. Pass `mode='max'` in order to monitor "
                    "based on the highest metric value, or pass `mode='min'` in order to use "
                    "the lowest value."
                )
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(np.float32(monitor_value - self.min_delta),
                                    np.float32(reference_value)))


class EarlyStopping(MonitorCallback):
    """Stops training when the monitored metric has stopped improving.

    After `start_from_epoch` epochs, each epoch without an improvement larger than
    `min_delta` counts towards `patience`; when the count reaches `patience` the
    model's `stop_training` is set. With `baseline`, the count restarts only on
    epochs that also beat the baseline. With `restore_best_weights`, the weights
    of the best epoch are put back at the end of training.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        # The same instance may serve several fits.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Nothing better seen yet: the current weights are the best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print_msg("Restoring model weights from the end of the best epoch: "
                           f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is "
                          f"not available. Available metrics are: {','.join(list(logs.keys()))}",
                          stacklevel=2)
        return value


def _optimizers_of(model):
    """(name suffix, optimizer) pairs: one unnamed, or each of a multi-optimizer."""
    optimizer = model.optimizer
    if hasattr(optimizer, "optimizers"):
        return [(opt.name, opt) for opt in optimizer.optimizers]
    return [("", optimizer)]


def _log_learning_rates(model, logs):
    for name, opt in _optimizers_of(model):
        logs[f"learning_rate_{name}" if name else "learning_rate"] = float(opt.learning_rate)


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by `factor` when the monitored metric has not
    improved by more than `min_delta` for `patience` epochs, then waits `cooldown`
    epochs before counting again; never below `min_lr`. Adds the epoch's
    `learning_rate` to the logs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def _reduce_optimizer_lr(self, optimizer, epoch, name=""):
        old_lr = float(optimizer.learning_rate)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            # A schedule-driven optimizer refuses the assignment (TypeError), as in Keras.
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                name_str = f" {name}" if name else ""
                _print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing{name_str} "
                           f"learning rate to {new_lr}.")
            return True
        return False

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        _log_learning_rates(self.model, logs)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          "which is not available. Available metrics are: "
                          f"{','.join(list(logs.keys()))}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for name, opt in _optimizers_of(self.model):
                    reduced = self._reduce_optimizer_lr(opt, epoch, name) or reduced
                if reduced:
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to `schedule(epoch, lr)`
    (or `schedule(epoch)`), and adds it to the epoch's logs as `learning_rate`."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def _update_optimizer_lr(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # a one-argument schedule(epoch), Keras 2's API
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            # Keras raises ValueError here, not TypeError.
            raise ValueError(  # noqa: TRY004
                f"The output of the `schedule` function should be a float. Got: {learning_rate}")
        # A schedule-driven optimizer refuses the assignment (TypeError), as in Keras.
        optimizer.learning_rate = learning_rate
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        for name, opt in _optimizers_of(self.model):
            learning_rate = self._update_optimizer_lr(opt, epoch)
            if self.verbose > 0:
                which = f"{name} learning rate" if name else "learning rate"
                _print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting {which} to "
                           f"{learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        _log_learning_rates(self.model, logs if logs is not None else {})


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file: an `epoch` column, then the log keys
    in sorted order (with `val_` columns, "NA" when there is no validation), written
    by `csv.DictWriter` in the excel dialect with `separator` as delimiter.

    `append=True` continues an existing file, writing the header only if it is empty.
    """

    _rank_zero_only = True  # under ember.distribution: rank 0 writes the file

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename) if isinstance(filename, os.PathLike) else filename
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        # Open across epochs, closed in on_train_end.
        self.csv_file = open(self.filename, mode)  # noqa: SIM115
        self.writer = None
        self.keys = None

    @staticmethod
    def _format(value):
        if isinstance(value, str):
            return value
        if isinstance(value, collections.abc.Iterable) and not (
                isinstance(value, np.ndarray) and value.ndim == 0):
            return f'"[{", ".join(map(str, value))}]"'
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                # Without validation the val_ columns are still there, filled with "NA".
                self.keys.extend([f"val_{k}" for k in self.keys])
        if not self.writer:

            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, self._format(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite: gracefully
    (`model.stop_training`, so `on_train_end` still runs), or with `raise_error=True`
    by raising RuntimeError at once.

    It reads every batch's loss, so fit returns to Python per batch while it is
    present; the check itself is one dict lookup.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. "
                                   f"Loss value: {loss}. Terminating training immediately.")
            _print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class ModelCheckpoint(MonitorCallback):
    """Saves the model (or only its weights) during training, as Keras's does.

    `filepath` may hold `str.format` fields filled from the epoch (1-based) and the
    logs: `"ckpt-{epoch:02d}-{val_loss:.3f}.keras"`. Whole models go to `.keras` or
    `.h5`, weights (`save_weights_only=True`) to `.weights.h5`; every file is written
    to a temporary name and renamed, so an interrupted save keeps the previous one.
    With `save_best_only` only improvements of `monitor` are saved; `save_freq` is
    "epoch" or a number of batches.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if self.save_freq != "epoch" and (isinstance(self.save_freq, bool)
                                          or not isinstance(self.save_freq, int)):
            raise ValueError(f"Unrecognized save_freq: {self.save_freq}. Expected save_freq are "
                             "'epoch' or integer values")
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the "
                                 "filepath provided must end in `.weights.h5` (Keras weights "
                                 f"format). Received: filepath={self.filepath}")
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). "
                             f"Received: filepath={self.filepath}")

    def _listens_per_batch(self, mode):
        # Only batch-wise saving needs fit to come back to Python per batch.
        return mode == "train" and self.save_freq != "epoch"

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            add_batches = batch + 1  # a new epoch
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=2)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                           f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs or {})
        if os.path.isdir(filepath):
            raise OSError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        if not self._should_save_model(epoch, logs, filepath):
            return
        dirname = os.path.dirname(filepath)
        if dirname and not os.path.exists(dirname) and _writes_files():
            os.makedirs(dirname, exist_ok=True)  # as Keras's ModelCheckpoint does
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None


# Callbacks that draw, each in a module of its own; they subclass Callback above.
from ember.visualization.live_chart import LiveChart  # noqa: E402, F401
from ember.visualization.tensorboard import TensorBoard  # noqa: E402, F401
