"""`ember.callbacks`: the Callback base with every hook Keras calls, History and
the progress bar logger.

fit/evaluate/predict ask the CallbackList whether anything listens per batch;
when nothing does, a whole epoch runs in one engine call.
"""

from ember.utils.progbar import Progbar

_BATCH_HOOKS = {
    "train": ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


class Callback:
    """Base class: override the hooks you need. `self.model` and `self.params`
    are set before training starts."""

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
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def _listens_per_batch(self, mode):
        """True when a per-batch hook of this mode ("train", "test") is overridden."""
        return any(getattr(type(self), h) is not getattr(Callback, h) for h in _BATCH_HOOKS[mode])


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


class ProgbarLogger(Callback):
    """Prints Keras's progress bar: a live bar per epoch at verbose=1, one line per
    epoch at verbose=2."""

    def __init__(self):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.progbar = None
        self._in_fit = False

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _listens_per_batch(self, mode):
        # The live bar needs each batch; one line per epoch needs only the end.
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
        self.progbar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self.progbar = Progbar(self.target, verbose=self.verbose, unit_name="step")

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self.progbar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_predict_begin(self, logs=None):
        self.progbar = Progbar(self.target, verbose=self.verbose, unit_name="step")

    def on_predict_end(self, logs=None):
        self.progbar.update(self.target, finalize=True)


class CallbackList:
    """Dispatches each hook to every callback, in order."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r}")
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if add_history:
            self.history = History()
            self.callbacks.append(self.history)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def listens_per_batch(self, mode):
        return any(cb._listens_per_batch(mode) for cb in self.callbacks)

    def only_progress_per_batch(self, mode):
        """True when the live progress bar is the only per-batch listener: it redraws at
        most every 50 ms, so batches may run in chunks between its updates."""
        return all(isinstance(cb, ProgbarLogger) for cb in self.callbacks
                   if cb._listens_per_batch(mode))

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def dispatch(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)

        return dispatch


class LambdaCallback(Callback):
    """Callbacks from plain functions, e.g. `LambdaCallback(on_epoch_end=lambda e, logs: ...)`."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        for name, fn in dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                             on_train_begin=on_train_begin, on_train_end=on_train_end,
                             on_train_batch_begin=on_train_batch_begin,
                             on_train_batch_end=on_train_batch_end, **kwargs).items():
            if fn is not None:
                setattr(self, name, fn)

    def _listens_per_batch(self, mode):
        return any(name in self.__dict__ for name in _BATCH_HOOKS[mode])
