"""`ember.activations`: Keras's activation functions.

Called on arrays they compute with NumPy (float32); passed to a layer, by name
or as these functions, they select the engine's fused kernel.
"""

import numpy as np


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def linear(x):
    return _f32(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope != 0.0 or max_value is not None or threshold != 0.0:
        raise NotImplementedError("relu with negative_slope/max_value/threshold is not supported yet")
    return np.maximum(_f32(x), np.float32(0))


def sigmoid(x):
    x = _f32(x)
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def tanh(x):
    return np.tanh(_f32(x))


def softmax(x, axis=-1):
    x = _f32(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


_ALL = {f.__name__: f for f in (linear, relu, sigmoid, tanh, softmax)}


def get(identifier):
    """Name, one of these functions, or None (linear) -> the function."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _ALL:
            raise ValueError(
                f"Could not interpret activation function identifier: '{identifier}'. "
                f"Known: {', '.join(sorted(_ALL))}."
            )
        return _ALL[identifier]
    if callable(identifier) and _ALL.get(getattr(identifier, "__name__", None)) is identifier:
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(activation):
    return get(activation).__name__


def deserialize(config, custom_objects=None):
    return get(config)
