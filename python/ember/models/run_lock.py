"""One model, several threads: the model's re-entrant lock, and `exclusive`, which
makes a method hold it."""

import functools
import threading


def exclusive(method):
    """`method` holding the model's lock (see RunLock._run_lock)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._run_lock:
            return method(self, *args, **kwargs)
    return wrapper


class RunLock:
    """Gives a model its lock (mixed into Trainer, so every Model has one)."""

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
