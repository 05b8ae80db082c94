"""fit/evaluate/predict over streaming data (ember.trainers.data_stream): each batch
is prepared as the array path prepares its data and handed to the engine as a batch
of its own, with every callback hook called per batch as Keras calls them."""

import contextlib
import warnings

import numpy as np

from ember.callbacks import CallbackList
from ember.distribution import distribution_lib
from ember.trainers.data_stream import RAN_OUT, DataStream, is_stream, kind_of, unpack_batch


def should_validate(epoch, validation_freq):
    """Keras's rule: every `validation_freq` epochs, or the epochs (1-based) it lists."""
    if isinstance(validation_freq, (int, np.integer)) and not isinstance(validation_freq, bool):
        return (epoch + 1) % validation_freq == 0
    if isinstance(validation_freq, (list, tuple)):
        return epoch + 1 in validation_freq
    raise ValueError(f"Expected `validation_freq` to be a list or int. Received: "
                     f"validation_freq={validation_freq} of the type {type(validation_freq)}.")


def check_steps(name, steps):
    """steps_per_epoch / validation_steps / steps: None or a positive integer."""
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer))
                              or steps <= 0):
        raise ValueError(f"`{name}` must be a positive integer, got {steps!r}")
    return None if steps is None else int(steps)


def reject_with_stream(x, **given):
    """Keras's error for y / sample_weight passed beside a generator or PyDataset."""
    what = {"y": "the targets", "sample_weight": "the sample weights"}
    for name, value in given.items():
        if value is not None:
            kind = kind_of(x)
            raise ValueError(f"When providing `x` as a {kind}, `{name}` should not be passed. "
                             f"Instead, {what[name]} should be included as part of the {kind}.")


class StreamLoops:
    """The loops over a DataStream (mixed into Trainer beside the array loops)."""

    def _stream_batch(self, batch, step, targets=True, class_weight=None):
        """One streamed batch -> the engine's (xs, ys, sample weights), checked as the
        array path checks its data; the error names the batch."""
        x, y, sw = unpack_batch(batch, step)
        try:
            xs = self._prepare_inputs(x)
            if not targets:
                return xs, None, None
            n = xs[0].shape[0]
            ys = self._prepare_targets(y, n)
            if sw is not None and class_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same "
                                 "time.")
            sws = self._prepare_sample_weights(sw, class_weight, ys, n)
        except (ValueError, TypeError) as e:
            e.args = (f"Batch {step} of the data: {e.args[0] if e.args else e}",) + e.args[1:]
            raise
        self._sync_stream_targets(ys)
        return xs, ys, sws

    def _sync_stream_targets(self, ys):
        shapes = tuple(t.shape[1:] for t in ys)
        if shapes != getattr(self, "_stream_synced_shapes", None):
            self._sync_compile(ys)  # resolves metrics from the targets, as the array path
            self.optimizer.built = True
            self._stream_synced_shapes = shapes

    def _stream_steps(self, batches, data, class_weight=None):
        """(step, xs, ys, sws) for each step of an epoch's batches: each batch prepared
        as the array path prepares its data; under DataParallel every rank's part of the
        step gathered into the global batch."""
        world = distribution_lib.data_parallel_world()
        if world is not None:
            yield from self._gathered_steps(world, batches, kind_of(data), class_weight)
            return
        for step, batch in batches:
            yield (step,) + self._stream_batch(batch, step, class_weight=class_weight)

    def _fit_stream(self, x, epochs, verbose, callbacks, validation_data, shuffle,
                    class_weight, initial_epoch, steps_per_epoch, validation_steps,
                    validation_freq, validation_batch_size, batch_size):
        world = distribution_lib.data_parallel_world()
        train = DataStream(self._shard_dataset(world, x), steps=steps_per_epoch, shuffle=shuffle)
        val = self._validation_of(validation_data, validation_steps, validation_batch_size,
                                  batch_size)
        self._stream_synced_shapes = None
        cbs = CallbackList(callbacks, add_history=True, add_progbar=bool(verbose) and (
            world is None or world.rank == 0), model=self, verbose=verbose, epochs=epochs,
            steps=train.steps or train.num_batches)
        started = world is None
        self.stop_training = False
        cbs.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            if train.exhausted:  # a one-shot generator ended with the epoch before
                if not train.ran_out:
                    warnings.warn(RAN_OUT, stacklevel=3)
                break
            if self._core is not None:
                self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            steps = 0
            with contextlib.closing(train.epoch()) as batches:
                for step, xs, ys, sws in self._stream_steps(batches, x, class_weight):
                    cbs.on_train_batch_begin(step)
                    if steps == 0:
                        self._reset_metrics()  # the first batch may have built the model
                        self._parallel()  # the engine's reducer: DataParallel's, or none
                    if not started:  # the model exists from the first batch on
                        self._agree(world, "fit", {
                            "epochs": epochs, "initial_epoch": initial_epoch,
                            "steps": train.steps, "batches": train.num_batches,
                            "validation_freq": validation_freq})
                        self._start_from_rank_zero(world)
                        started = True
                    self._run_batches(True, xs, ys, None, xs[0].shape[0], 0, 1, sws)
                    steps += 1
                    cbs.on_train_batch_end(step, self._logs())
                    if self._any_rank(self.stop_training):
                        self.stop_training = True
                        break
            if steps == 0:
                raise ValueError(f"The {kind_of(x)} yielded no batches for epoch {epoch + 1}: "
                                 "it must yield at least one batch.")
            logs = self._logs()
            if val is not None and should_validate(epoch, validation_freq):
                val_logs = val(cbs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self._any_rank(self.stop_training):
                self.stop_training = True
                break
        cbs.on_train_end(logs)
        if world is not None:  # rank 0's files (CSVLogger, ...) are complete when fit returns
            world.barrier()
        return cbs.history

    def _validation_of(self, validation_data, validation_steps, validation_batch_size,
                       batch_size):
        """fit's validation_data -> a function running one validation (or None)."""
        if validation_data is None:
            return None
        if is_stream(validation_data):
            stream = DataStream(
                self._shard_dataset(distribution_lib.data_parallel_world(), validation_data),
                steps=validation_steps, steps_name="validation_steps")

            def validate(cbs):
                stream.restart()
                logs = self._test_stream(stream, cbs)
                if logs is None:
                    warnings.warn("The validation data yielded no batches (a generator that "
                                  "has run out?): this epoch has no validation logs. Pass "
                                  "`validation_steps` and a generator that yields "
                                  "`validation_steps * epochs` batches.", stacklevel=4)
                return logs or {}
            validate.plan = "stream"
            return validate
        return self._array_validation(
            *self._unpack_validation(validation_data),
            self._batch_size(validation_batch_size, self._batch_size(batch_size)),
            validation_steps)

    def _array_validation(self, xs, ys, sws, batch_size, steps):
        def validate(cbs):
            return self._test(xs, ys, batch_size, cbs, sws=sws, steps=steps)
        validate.plan = {"samples": xs[0].shape[0], "batch_size": batch_size, "steps": steps,
                         "sample_weights": sws is not None}
        return validate

    def _unpack_validation(self, validation_data):
        if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                             "(x_val, y_val, val_sample_weight), a generator or a PyDataset.")
        vx = self._prepare_inputs(validation_data[0])
        vn = vx[0].shape[0]
        vy = self._prepare_targets(validation_data[1], vn)
        vsw = validation_data[2] if len(validation_data) == 3 else None
        return vx, vy, self._prepare_sample_weights(vsw, None, vy, vn)

    def _test_stream(self, stream, cbs):
        """One pass of evaluation over the stream; its logs, or None without batches."""
        self.stop_evaluating = False
        if self._core is not None:
            self._reset_metrics()
        cbs.on_test_begin()
        steps = 0
        with contextlib.closing(stream.epoch()) as batches:
            for step, xs, ys, sws in self._stream_steps(batches, stream.data):
                cbs.on_test_batch_begin(step)
                if steps == 0:
                    self._parallel()
                    self._reset_metrics()
                self._run_batches(False, xs, ys, None, xs[0].shape[0], 0, 1, sws)
                steps += 1
                cbs.on_test_batch_end(step, self._logs())
                if self._any_rank(self.stop_evaluating):
                    break
        logs = self._logs() if steps else None
        cbs.on_test_end(logs)
        return logs

    def _evaluate_stream(self, x, verbose, steps, callbacks, return_dict):
        world = distribution_lib.data_parallel_world()
        stream = DataStream(self._shard_dataset(world, x), steps=steps, steps_name="steps")
        self._stream_synced_shapes = None
        cbs = CallbackList(callbacks, add_progbar=bool(verbose) and (
            world is None or world.rank == 0), model=self, verbose=verbose, epochs=1,
            steps=stream.steps or stream.num_batches)
        logs = self._test_stream(stream, cbs)
        if logs is None:
            raise ValueError(f"The {kind_of(x)} yielded no batches to evaluate.")
        return logs if return_dict else self._flatten_logs(logs)

    def _predict_stream(self, x, verbose, steps, callbacks):
        world = distribution_lib.data_parallel_world()
        stream = DataStream(self._shard_dataset(world, x), steps=steps, steps_name="steps")
        cbs = CallbackList(callbacks, add_progbar=bool(verbose) and (
            world is None or world.rank == 0), model=self, verbose=verbose, epochs=1,
            steps=stream.steps or stream.num_batches)
        self.stop_predicting = False
        cbs.on_predict_begin()
        chunks = []
        with contextlib.closing(stream.epoch()) as batches:
            for step, batch in batches:
                cbs.on_predict_batch_begin(step)
                if world is not None and batch is None:  # a PyDataset's last step: no part
                    chunks.append(None)
                    continue
                xs, _, _ = self._stream_batch(batch, step, targets=False)
                outs = self._core.predict(xs, max(xs[0].shape[0], 1))
                chunks.append(outs)
                cbs.on_predict_batch_end(step, {"outputs": self._structure_outputs(outs)})
                if self.stop_predicting:
                    break
        if world is not None:  # each rank predicted its part of each step; all get the whole
            chunks = [None if c is None else list(c) for c in chunks]
            outs = self._gather_predictions(world, chunks, kind_of(x))
            if not outs:
                raise ValueError(f"The {kind_of(x)} yielded no batches to predict.")
            cbs.on_predict_end()
            return self._structure_outputs(outs)
        if not chunks:
            raise ValueError(f"The {kind_of(x)} yielded no batches to predict.")
        cbs.on_predict_end()
        return self._structure_outputs([np.concatenate(parts) for parts in zip(*chunks)])
