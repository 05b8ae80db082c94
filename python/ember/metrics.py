"""`ember.metrics`: Keras's metrics. In `compile` they select the engine's
metric kernels, accumulated per epoch in C++; used directly they are stateful
NumPy objects with `update_state`, `result` and `reset_state`."""

import numpy as np

from ember.losses import _pair


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean((y_pred > threshold).astype(np.float32) == y_true, axis=-1)


def categorical_accuracy(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim:
        y_true = y_true[..., 0]
    return (np.argmax(y_pred, -1) == y_true).astype(np.float32)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.square(y_true - y_pred), -1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), -1)


class Metric:
    """A running mean of a per-sample function, as Keras's MeanMetricWrapper."""

    fn = None

    def __init__(self, name=None, dtype=None):
        self.name = name or _default_name(type(self))
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(type(self).fn(y_true, y_pred, **self._fn_kwargs()), np.float64)
        w = np.ones_like(values) if sample_weight is None else \
            np.asarray(sample_weight, np.float64).reshape(values.shape)
        self._total += float((values * w).sum())
        self._count += float(w.sum())

    def result(self):
        return np.float32(self._total / self._count if self._count else 0.0)

    def reset_state(self):
        self._total = 0.0
        self._count = 0.0

    def _fn_kwargs(self):
        return {}

    def get_config(self):
        return {"name": self.name, "dtype": "float32"}


class BinaryAccuracy(Metric):
    fn = staticmethod(binary_accuracy)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name, dtype)

    def _fn_kwargs(self):
        return {"threshold": self.threshold}


class CategoricalAccuracy(Metric):
    fn = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(Metric):
    fn = staticmethod(sparse_categorical_accuracy)


class MeanSquaredError(Metric):
    fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(Metric):
    fn = staticmethod(mean_absolute_error)


def _default_name(cls):
    return {BinaryAccuracy: "binary_accuracy", CategoricalAccuracy: "categorical_accuracy",
            SparseCategoricalAccuracy: "sparse_categorical_accuracy",
            MeanSquaredError: "mean_squared_error",
            MeanAbsoluteError: "mean_absolute_error"}.get(cls, cls.__name__.lower())


_FUNCTIONS = {
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
}
_CLASS_OF = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
             sparse_categorical_accuracy: SparseCategoricalAccuracy,
             mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError}


def resolve(identifier, target_shape, output_shape):
    """compile's metric identifier -> (history name, engine kernel name, threshold).

    "accuracy"/"acc" picks binary, sparse or categorical accuracy from the shapes
    as Keras does: binary when the output has one unit; sparse when the target
    has lower rank, or a last axis of 1 against several outputs.
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        t_rank, p_rank = len(target_shape), len(output_shape)
        if output_shape[-1] == 1:
            kernel = "binary_accuracy"
        elif t_rank < p_rank or (target_shape[-1] == 1 and output_shape[-1] > 1):
            kernel = "sparse_categorical_accuracy"
        else:
            kernel = "categorical_accuracy"
        return identifier, kernel, 0.5
    if isinstance(identifier, str):
        if identifier not in _FUNCTIONS:
            raise ValueError(f"Could not interpret metric identifier: {identifier}")
        return identifier, _FUNCTIONS[identifier].__name__, 0.5
    if isinstance(identifier, Metric):
        threshold = getattr(identifier, "threshold", 0.5)
        return identifier.name, type(identifier).fn.__name__, threshold
    if identifier in _CLASS_OF:
        return identifier.__name__, identifier.__name__, 0.5
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def get(identifier):
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]
    raise ValueError(f"Could not interpret metric identifier: {identifier}")
