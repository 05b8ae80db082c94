"""`ember.losses`: Keras's losses, as functions (per-sample values, NumPy) and
as classes (reduced, default "sum_over_batch_size"). In `compile` either form
selects the engine's fused loss-and-gradient kernel."""

import numpy as np

from ember import _core

_EPS = np.float32(1e-7)


def _pair(y_true, y_pred):
    y_pred = np.asarray(y_pred, dtype=np.float32)
    y_true = np.asarray(y_true, dtype=np.float32)
    # Keras's squeeze_or_expand_to_same_rank: (n,) against (n, 1) lines up.
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    elif y_pred.ndim == y_true.ndim - 1:
        y_pred = y_pred[..., None]
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    """mean(square(y_true - y_pred), axis=-1)"""
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(abs(y_true - y_pred), axis=-1)"""
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def binary_crossentropy(y_true, y_pred):
    """-mean(t log(p) + (1 - t) log(1 - p), axis=-1), p clipped to [eps, 1 - eps]"""
    y_true, y_pred = _pair(y_true, y_pred)
    p = np.clip(y_pred, _EPS, 1 - _EPS)
    return -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p), axis=-1)


def categorical_crossentropy(y_true, y_pred):
    """-sum(t log(p), axis=-1), p normalised to sum 1 and clipped to [eps, 1 - eps]"""
    y_pred = np.asarray(y_pred, dtype=np.float32)
    y_true = np.asarray(y_true, dtype=np.float32)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}"
        )
    p = np.clip(y_pred / y_pred.sum(axis=-1, keepdims=True), _EPS, 1 - _EPS)
    return -np.sum(y_true * np.log(p), axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred):
    """categorical_crossentropy with integer class ids as targets"""
    y_pred = np.asarray(y_pred, dtype=np.float32)
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    classes = y_pred.shape[-1]
    check_sparse_labels(labels, classes)
    return categorical_crossentropy(np.eye(classes, dtype=np.float32)[labels.astype(int)], y_pred)


def check_sparse_labels(labels, classes):
    labels = np.asarray(labels)
    if labels.size and (
        np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= classes
    ):
        raise ValueError(
            f"Labels must be integers in [0, {classes - 1}] for an output of {classes} classes; "
            f"got values from {labels.min()} to {labels.max()}."
        )


class Loss:
    """Base class: `loss(y_true, y_pred, sample_weight=None)` reduces the function's
    per-sample values ("sum_over_batch_size": their mean)."""

    fn = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in ("sum_over_batch_size", "sum", "none", None, "mean"):
            raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = type(self).fn(y_true, y_pred)
        if sample_weight is not None:
            values = values * np.asarray(sample_weight, dtype=np.float32).reshape(values.shape)
        if self.reduction in ("none", None):
            return values
        if self.reduction == "sum":
            return np.float32(values.sum())
        return np.float32(values.sum() / max(values.size, 1))

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _snake(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out


class MeanSquaredError(Loss):
    fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(Loss):
    fn = staticmethod(mean_absolute_error)


class BinaryCrossentropy(Loss):
    fn = staticmethod(binary_crossentropy)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, name="binary_crossentropy",
                 **kwargs):
        if from_logits or label_smoothing:
            raise NotImplementedError("from_logits / label_smoothing are not supported yet")
        super().__init__(name=name, **kwargs)


class CategoricalCrossentropy(Loss):
    fn = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 name="categorical_crossentropy", **kwargs):
        if from_logits or label_smoothing:
            raise NotImplementedError("from_logits / label_smoothing are not supported yet")
        super().__init__(name=name, **kwargs)


class SparseCategoricalCrossentropy(Loss):
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits=False, ignore_class=None,
                 name="sparse_categorical_crossentropy", **kwargs):
        if from_logits or ignore_class is not None:
            raise NotImplementedError("from_logits / ignore_class are not supported yet")
        super().__init__(name=name, **kwargs)


# Keras's short names.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

_FUNCTIONS = {
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}
_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
                                    CategoricalCrossentropy, SparseCategoricalCrossentropy)}


def get(identifier):
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"Could not interpret loss identifier: {identifier}")
    if isinstance(identifier, Loss) or identifier in _FUNCTIONS.values():
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def engine_name(loss):
    """The engine's kernel for a loss given in any accepted form."""
    loss = get(loss)
    fn = type(loss).fn if isinstance(loss, Loss) else loss
    return fn.__name__


def loss_value(loss, y_true, y_pred):
    """The reduced loss computed by the engine (used by tests as the kernel's check)."""
    return _core.loss_value(engine_name(loss), np.asarray(y_true, np.float32),
                            np.asarray(y_pred, np.float32))
