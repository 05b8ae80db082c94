"""`ember.constraints`: Keras's weight constraints, applied after each optimizer update.

`Dense(4, kernel_constraint=MaxNorm(2.0))` (or any `add_weight(constraint=...)`) sets
the variable to `constraint(variable)` right after the optimizer updates it, as Keras's
optimizer does. MaxNorm, MinMaxNorm, NonNeg and UnitNorm run inside the engine's
training step, which never returns to Python per batch. A user's `Constraint`
subclass is Python code: ember applies it after each batch of `fit` from Python (the
batch loop then returns to Python once per batch), and in `optimizer.apply`.
Calling a constraint on an array returns the constrained array, as in Keras.
"""

import inspect

import numpy as np

_EPSILON = np.float32(1e-7)  # keras.backend.epsilon()


class Constraint:
    """Base class: `__call__(w)` returns the projection of the weight `w`."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _axes(axis):
    if axis is None:
        return None
    return tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else int(axis)


def _norms(w, axis):
    w = np.asarray(w, dtype=np.float32)
    return w, np.sqrt(np.sum(np.square(w), axis=_axes(axis), keepdims=True, dtype=np.float32))


def _check_axis(axis):
    items = axis if isinstance(axis, (list, tuple)) else [axis]
    if axis is not None and not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                                    for a in items):
        raise TypeError(f"`axis` must be an integer, a list of integers or None. "
                        f"Received: axis={axis!r}")
    return list(axis) if isinstance(axis, tuple) else axis


def _check_number(value, name, low=0.0, high=None):
    if (not isinstance(value, (int, float, np.number)) or isinstance(value, bool)
            or not np.isfinite(value) or value < low or (high is not None and value > high)):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"`{name}` must be a number {bound}. Received: {name}={value!r}")
    return value


class MaxNorm(Constraint):
    """Scales each group of weights along `axis` down to a norm of at most `max_value`:
    `w * clip(norm, 0, max_value) / (epsilon + norm)`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _check_number(max_value, "max_value")
        self.axis = _check_axis(axis)

    def __call__(self, w):
        w, norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, np.float32(self.max_value))
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each group's norm towards [min_value, max_value]: the norm becomes
    `rate * clip(norm, min_value, max_value) + (1 - rate) * norm`."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _check_number(min_value, "min_value")
        self.max_value = _check_number(max_value, "max_value", low=min_value)
        self.rate = _check_number(rate, "rate", high=1.0)
        self.axis = _check_axis(axis)

    def __call__(self, w):
        w, norms = _norms(w, self.axis)
        desired = (np.float32(self.rate)
                   * np.clip(norms, np.float32(self.min_value), np.float32(self.max_value))
                   + np.float32(1 - self.rate) * norms)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class NonNeg(Constraint):
    """Clips the weights at zero from below: `max(w, 0)`."""

    def __call__(self, w):
        return np.maximum(np.asarray(w, dtype=np.float32), np.float32(0))


class UnitNorm(Constraint):
    """Scales each group of weights along `axis` to unit norm: `w / (epsilon + norm)`."""

    def __init__(self, axis=0):
        self.axis = _check_axis(axis)

    def __call__(self, w):
        w, norms = _norms(w, self.axis)
        return w / (_EPSILON + norms)

    def get_config(self):
        return {"axis": self.axis}


max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

ALL_OBJECTS_DICT = {"Constraint": Constraint, "MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm,
                    "NonNeg": NonNeg, "UnitNorm": UnitNorm, "constraint": Constraint,
                    "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg,
                    "unit_norm": UnitNorm}


def serialize(constraint):
    from ember.saving import serialization_lib

    return serialization_lib.serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    """A constraint from its config (what `serialize` returns)."""
    from ember.saving import serialization_lib

    return serialization_lib.deserialize_keras_object(
        config, module_objects=ALL_OBJECTS_DICT, custom_objects=custom_objects)


def get(identifier):
    """None, a constraint, a name ("max_norm", "NonNeg", ...), a class or a config dict."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret constraint identifier: {identifier}")


def python_only(variables):
    """The variables whose constraint only Python can apply (a user's subclass)."""
    return [v for v in variables
            if getattr(v, "constraint", None) is not None and engine_spec(v.constraint) is None]


def apply_constraints(variables):
    """variable = constraint(variable) for each of `variables` that has a constraint."""
    for v in variables:
        if getattr(v, "constraint", None) is not None:
            v.assign(v.constraint(v.numpy()))


def engine_spec(constraint):
    """(kind, min_value, max_value, rate, axes) for the engine's built-in constraints,
    None for a constraint only Python can apply. axes [] is every axis (axis=None)."""
    # Exact types: a subclass may override __call__, and then only Python knows its math.
    kind = type(constraint)
    if kind not in (MaxNorm, MinMaxNorm, NonNeg, UnitNorm):
        return None
    axis = getattr(constraint, "axis", 0)
    axes = [] if axis is None else list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if kind is MaxNorm:
        return "max_norm", 0.0, float(constraint.max_value), 1.0, axes
    if kind is MinMaxNorm:
        return ("min_max_norm", float(constraint.min_value), float(constraint.max_value),
                float(constraint.rate), axes)
    if kind is NonNeg:
        return "non_neg", 0.0, 0.0, 1.0, []
    return "unit_norm", 0.0, 0.0, 1.0, axes


__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get",
           "max_norm", "min_max_norm", "non_neg", "serialize", "unit_norm"]
