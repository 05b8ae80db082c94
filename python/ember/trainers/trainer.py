"""Trainer: compile, and the fit/evaluate/predict loops around the engine's calls.

The model's weights, optimizer state, losses and metrics live in the engine
(`ember._core.Model`); these loops turn Keras-style arguments into engine calls.
During fit, Python runs once per epoch - or once per batch when a callback (or a
live progress bar) asks for batch-level hooks.
"""

import math
import time
import warnings

import numpy as np

from ember import constraints, optimizers
from ember import losses as losses_module
from ember import metrics as metrics_module
from ember import random as _random
from ember.callbacks import Callback, CallbackList
from ember.distribution.distribution_lib import data_parallel_world
from ember.models.functional import flatten
from ember.models.run_lock import RunLock, exclusive
from ember.trainers.compile_utils import CompiledLossesAndMetrics, check_loss_weights
from ember.trainers.data_handler import DataHandler
from ember.trainers.data_parallel import DataParallelSteps
from ember.trainers.data_stream import RAN_OUT, is_stream
from ember.trainers.stream_loops import (
    StreamLoops,
    check_steps,
    reject_with_stream,
    should_validate,
)


class Trainer(RunLock, CompiledLossesAndMetrics, DataHandler, StreamLoops, DataParallelSteps):
    """compile, fit, evaluate, predict and the *_on_batch calls (mixed into Model)."""

    # -- compile ---------------------------------------------------------------
    @exclusive
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Sets the optimizer, loss(es) and metrics; the engine plans its buffers."""
        optimizer = optimizers.get(optimizer)
        if loss is not None:
            for each in flatten(loss):
                losses_module.engine_spec(each)  # ValueError: unknown name, bad argument
        for argument, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if given and not isinstance(given, (list, tuple, dict)):
                raise ValueError(f"Expected `{argument}` argument to be a list, tuple, or dict. "
                                 f"Received instead: {argument}={given} of type {type(given)}")
            for each in flatten(given) if given is not None else []:
                for one in flatten(each) if each is not None else []:
                    metrics_module.check_compile_identifier(one)  # ValueError: unknown name
        check_loss_weights(loss_weights)
        self.optimizer = optimizer
        self.loss = loss
        self._compile_config = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                                "weighted_metrics": weighted_metrics}
        self._compiled_spec = None
        self.compiled = True

    def _assert_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    # -- the optimizer's state (ember.saving reads and restores it) ------------
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
            "slots": [[s.reshape(self.optimizer._keras_slot_shape(name, v.shape))
                       for name, s in zip(core.slot_names(), slots)]
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

    # -- fit, evaluate, predict ------------------------------------------------
    @exclusive
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for `epochs` epochs; returns a History whose `.history` holds the
        per-epoch logs (`loss`, metrics, and `val_`-prefixed ones with validation)."""
        self._assert_compiled()
        steps_per_epoch = check_steps("steps_per_epoch", steps_per_epoch)
        validation_steps = check_steps("validation_steps", validation_steps)
        batch_size = self._batch_size(batch_size)
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer, got {epochs!r}")
        should_validate(0, validation_freq)  # ValueError: neither an int nor a list
        if is_stream(x):  # a generator or PyDataset: batch by batch (stream_loops.py)
            reject_with_stream(x, y=y, sample_weight=sample_weight)
            if validation_split:
                raise ValueError("`validation_split` is only supported for NumPy arrays, "
                                 "lists and DataFrames, not for a generator or PyDataset.")
            if not self.built or constraints.python_only(self.trainable_weights):
                callbacks = [_PythonConstraints()] + list(callbacks or [])
            return self._fit_stream(x, epochs, verbose, callbacks, validation_data, shuffle,
                                    class_weight, initial_epoch, steps_per_epoch,
                                    validation_steps, validation_freq, validation_batch_size,
                                    batch_size)
        xs = self._prepare_inputs(x)
        n = xs[0].shape[0]
        ys = self._prepare_targets(y, n)
        if sample_weight is not None and class_weight is not None:
            raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
        # Sample weights are split with the data; class weights weight the training part only.
        sws = self._prepare_sample_weights(sample_weight, None, ys, n)
        validate = None  # runs one validation: (callbacks) -> logs
        if validation_data is not None:
            validate = self._validation_of(validation_data, validation_steps,
                                           validation_batch_size, batch_size)
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
            validate = self._array_validation(
                *val, self._batch_size(validation_batch_size, batch_size), validation_steps)
            xs, ys = [a[:split_at] for a in xs], [a[:split_at] for a in ys]
            sws = None if sws is None else [None if w is None else w[:split_at] for w in sws]
            n = split_at
        if class_weight is not None:
            sws = self._prepare_sample_weights(None, class_weight, ys, n)
        self._sync_compile(ys)
        self.optimizer.built = True
        world = self._parallel()
        if constraints.python_only(self.trainable_weights):
            callbacks = [_PythonConstraints()] + list(callbacks or [])
        batches = math.ceil(n / batch_size)
        steps = int(steps_per_epoch) if steps_per_epoch else batches
        # params["verbose"] stays "auto" as in Keras; the progress bar reads it as 1.
        # Under DataParallel only rank 0 draws it.
        cbs = CallbackList(callbacks, add_history=True, add_progbar=bool(verbose) and (
            world is None or world.rank == 0), model=self, verbose=verbose, epochs=epochs,
            steps=steps)
        per_batch = cbs.listens_per_batch("train")
        chunked = cbs.only_progress_per_batch("train")
        if world is not None:
            self._agree(world, "fit", {
                "samples": n, "batch_size": batch_size, "epochs": epochs,
                "initial_epoch": initial_epoch, "steps": steps, "shuffle": bool(shuffle),
                "validation": None if validate is None else validate.plan,
                "validation_freq": validation_freq,
                "sample_weights": None if sws is None else [w is not None for w in sws]})
            per_batch, chunked = self._agree_on_hooks(world, per_batch, chunked)
            self._start_from_rank_zero(world)
        self.stop_training = False
        cbs.on_train_begin()
        logs = {}
        # With steps_per_epoch, as Keras's epoch iterator: a pass over the data continues
        # from epoch to epoch; an epoch that reaches the end of the data stops there
        # (with Keras's warning), and the next epoch starts a new (reshuffled) pass.
        position, order = 0, None
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
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
                self._run_batches(True, xs, ys, order, batch_size, position, position + run,
                                  sws)
            position = 0 if position + run >= batches else position + run
            logs = self._logs()
            if validate is not None and should_validate(epoch, validation_freq):
                val_logs = validate(cbs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if world is not None:  # a callback's stop on one rank stops every rank
                self.stop_training = world.any(self.stop_training)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        if world is not None:  # rank 0's files (CSVLogger, ...) are complete when fit returns
            world.barrier()
        return cbs.history

    def _train_with_batch_hooks(self, xs, ys, sws, order, batch_size, steps, cbs, chunked,
                                first=0):
        """One epoch with batch-level hooks: `steps` batches from batch `first` of the
        data. When only the progress bar listens, batches run in chunks that double
        until one takes ~10 ms, so the bar still moves smoothly but Python is not
        entered per batch."""
        world = self._parallel()
        step, chunk = 0, 1
        while step < steps and not self.stop_training:
            end = min(step + chunk, steps)
            cbs.on_train_batch_begin(step)
            start = time.perf_counter()
            self._run_batches(True, xs, ys, order, batch_size, first + step, first + end, sws)
            quick = chunked and time.perf_counter() - start < 0.01
            cbs.on_train_batch_end(end - 1, self._logs())
            if world is not None:  # rank 0's timing sizes the chunks; a stop stops all
                flags = world.allgather((quick, bool(self.stop_training)))
                quick, self.stop_training = flags[0][0], any(f[1] for f in flags)
            if quick:
                chunk *= 2
            step = end

    def _test(self, xs, ys, batch_size, cbs, sws=None, steps=None):
        batches = math.ceil(xs[0].shape[0] / batch_size)
        if steps is not None and steps > batches:
            warnings.warn(RAN_OUT, stacklevel=3)
        steps = batches if steps is None else min(steps, batches)
        self.stop_evaluating = False
        self._reset_metrics()
        cbs.on_test_begin()
        if self._any_rank(cbs.listens_per_batch("test")):
            for step in range(steps):
                cbs.on_test_batch_begin(step)
                self._run_batches(False, xs, ys, None, batch_size, step, step + 1, sws)
                cbs.on_test_batch_end(step, self._logs())
                if self._any_rank(self.stop_evaluating):
                    break
        else:
            self._run_batches(False, xs, ys, None, batch_size, 0, steps, sws)
        logs = self._logs()
        cbs.on_test_end(logs)
        return logs

    @exclusive
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """The loss (and metrics) over the data: a scalar, a list, or a dict."""
        self._assert_compiled()
        steps = check_steps("steps", steps)
        if is_stream(x):  # a generator or PyDataset: batch by batch (stream_loops.py)
            reject_with_stream(x, y=y, sample_weight=sample_weight)
            return self._evaluate_stream(x, verbose, steps, callbacks, return_dict)
        batch_size = self._batch_size(batch_size)
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        self._sync_compile(ys)
        world = self._parallel()
        batches = math.ceil(xs[0].shape[0] / batch_size)
        cbs = CallbackList(callbacks, add_progbar=bool(verbose) and (
            world is None or world.rank == 0), model=self, verbose=verbose, epochs=1,
            steps=steps or batches)
        sws = self._prepare_sample_weights(sample_weight, None, ys, xs[0].shape[0])
        if world is not None:
            self._agree(world, "evaluate", {
                "samples": xs[0].shape[0], "batch_size": batch_size, "steps": steps,
                "sample_weights": sws is not None})
        logs = self._test(xs, ys, batch_size, cbs, sws=sws, steps=steps)
        return logs if return_dict else self._flatten_logs(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as NumPy arrays (a list for several outputs)."""
        if steps is not None:
            steps = check_steps("steps", steps)
        # An ndarray is asked about first: a one-row predict pays for every check on each call.
        if type(x) is not np.ndarray and is_stream(x):  # batch by batch (stream_loops.py)
            return self._predict_stream(x, verbose, steps, callbacks)
        batch_size = self._batch_size(batch_size)
        xs = self._prepare_inputs(x)
        if steps is not None:  # the first `steps` batches, as Keras
            if steps * batch_size < xs[0].shape[0]:
                xs = [a[:steps * batch_size] for a in xs]
            elif steps > math.ceil(xs[0].shape[0] / batch_size):
                warnings.warn(RAN_OUT, stacklevel=2)
        world = data_parallel_world()
        if world is not None:  # each rank predicts its share of the rows; all get the whole
            if verbose or callbacks:
                cbs = CallbackList(callbacks, add_progbar=bool(verbose) and world.rank == 0,
                                   model=self, verbose=verbose, epochs=1,
                                   steps=math.ceil(xs[0].shape[0] / batch_size))
                self.stop_predicting = False
                cbs.on_predict_begin()
            outs = self._predict_shard(world, xs, batch_size)
            if verbose or callbacks:
                cbs.on_predict_end()
            return self._structure_outputs(outs)
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

    # -- one batch -------------------------------------------------------------
    @exclusive
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on this batch; returns its loss (and metrics)."""
        self._assert_compiled()
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        sws = self._prepare_sample_weights(sample_weight, class_weight, ys, xs[0].shape[0])
        self._sync_compile(ys)
        self.optimizer.built = True
        self._parallel()  # under DataParallel: x is the global batch, sharded by the engine
        self._reset_metrics()
        self._run_batches(True, xs, ys, None, xs[0].shape[0], 0, 1, sws)
        constraints.apply_constraints(constraints.python_only(self.trainable_weights))
        logs = self._logs()
        return logs if return_dict else self._flatten_logs(logs)

    @exclusive
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on this batch, without updating weights."""
        self._assert_compiled()
        xs = self._prepare_inputs(x)
        ys = self._prepare_targets(y, xs[0].shape[0])
        sws = self._prepare_sample_weights(sample_weight, None, ys, xs[0].shape[0])
        self._sync_compile(ys)
        self._parallel()
        self._reset_metrics()
        self._run_batches(False, xs, ys, None, xs[0].shape[0], 0, 1, sws)
        logs = self._logs()
        return logs if return_dict else self._flatten_logs(logs)

    def predict_on_batch(self, x):
        """The outputs for one batch (x as a whole)."""
        xs = self._prepare_inputs(x)
        return self._structure_outputs(self._core.predict(xs, max(xs[0].shape[0], 1)))


class _PythonConstraints(Callback):
    """Applies the constraints only Python can compute (a user's `Constraint` subclass)
    after each training batch, as Keras's optimizer does after its update. Its presence
    makes the batch loop return to Python once per batch; the built-in constraints run
    inside the engine's step and need no such hook."""

    def on_train_batch_end(self, batch, logs=None):
        constraints.apply_constraints(constraints.python_only(self.model.trainable_weights))
