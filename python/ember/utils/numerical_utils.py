"""to_categorical and normalize, as in keras.utils."""

import numpy as np


def to_categorical(x, num_classes=None):
    """Class ids (any integer-valued array) -> one-hot float32 rows.

    >>> to_categorical([0, 2, 1], num_classes=3)[1]
    array([0., 0., 1.], dtype=float32)
    """
    x = np.asarray(x)
    if x.size and np.any(x != np.round(x)):
        raise ValueError("to_categorical expects integer class ids.")
    x = x.astype(np.int64)
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if x.size and x.min() < 0:
        raise ValueError(f"to_categorical expects class ids >= 0, got {x.min()}.")
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    elif x.size and x.max() >= num_classes:
        raise ValueError(f"class id {x.max()} is out of range for num_classes={num_classes}.")
    out = np.zeros(x.shape + (num_classes,), dtype=np.float32)
    np.put_along_axis(out, x[..., None], 1.0, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)
