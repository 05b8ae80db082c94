"""`ember.regularizers`: Keras's L1, L2 and L1L2 penalties.

Given as `kernel_regularizer` / `bias_regularizer` (any `add_weight(regularizer=...)`)
they put `l1 * sum(|w|) + l2 * sum(w**2)` on the loss while the weight is trainable;
as `activity_regularizer` the same penalty on a layer's output, divided by the batch
size. The engine adds the penalties to the loss it trains on and reports (History's
`loss`, `evaluate`), exactly as Keras adds `model.losses`. Calling a regularizer on an
array returns its penalty, as in Keras.
"""

import math

import numpy as np


def validate_float_arg(value, name):
    """A non-negative finite number, as a float; ValueError otherwise (Keras's message)."""
    if (not isinstance(value, (float, int)) or isinstance(value, bool)
            or math.isinf(value) or math.isnan(value) or value < 0):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float."
            f"Received: {name}={value}"
        )
    return float(value)


class Regularizer:
    """Base class: `__call__(x)` returns the penalty of a weight or activation array."""

    def __call__(self, x):
        return 0.0

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")


def _sum_abs(x):
    return np.sum(np.abs(np.asarray(x, dtype=np.float32)), dtype=np.float32)


def _sum_square(x):
    x = np.asarray(x, dtype=np.float32)
    return np.sum(x * x, dtype=np.float32)


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)`. Both default to 0 here; the string "l1_l2"
    gives 0.01 for each, as Keras documents it."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x):
        penalty = np.float32(0.0)
        if self.l1 != 0.0:
            penalty += np.float32(self.l1) * _sum_abs(x)
        if self.l2 != 0.0:
            penalty += np.float32(self.l2) * _sum_square(x)
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(|x|)`; "l1" as a string means `L1(0.01)`."""

    def __init__(self, l1=0.01):
        l1 = validate_float_arg(0.01 if l1 is None else l1, name="l1")
        # Keras keeps the factor as a float32 tensor, so its config reads back rounded.
        self.l1 = float(np.float32(l1))

    def __call__(self, x):
        return np.float32(self.l1) * _sum_abs(x)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(x**2)`; "l2" as a string means `L2(0.01)`."""

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x):
        return np.float32(self.l2) * _sum_square(x)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (mode="rows") or columns (mode="columns") of a rank-2 weight
    towards orthogonality: `factor * 0.5 * sum(|offdiag(N N^T)|) / (n (n - 1) / 2)`,
    N the L2-normalised rows (or columns), n of them. As `kernel_regularizer` the
    engine adds the penalty and its gradient each step (cpu/regularization_kernels.cpp).
    """

    def __init__(self, factor=0.01, mode="rows"):
        validate_float_arg(factor, name="factor")
        # Keras keeps the factor as a float32 tensor, so its config reads back rounded.
        self.factor = float(np.float32(factor))
        if mode not in {"rows", "columns"}:
            raise ValueError('Invalid value for argument `mode`. Expected one of {"rows", '
                             f'"columns"}}. Received: mode={mode}')
        self.mode = mode

    def __call__(self, inputs):
        x = np.asarray(inputs, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={x.shape}")
        if self.mode == "columns":
            x = x.T
        inv = np.minimum(1.0 / np.sqrt(np.sum(x * x, axis=1, keepdims=True, dtype=np.float32)),
                         np.float32(1e7)).astype(np.float32)
        normed = x * inv
        product = normed @ normed.T
        size = x.shape[0]
        off = product * (np.float32(1.0) - np.eye(size, dtype=np.float32))
        num_pairs = np.float32(size * (size - 1.0) / 2.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.float32(np.float32(self.factor) * np.float32(0.5)
                              * np.sum(np.abs(off), dtype=np.float32) / num_pairs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's names (class names and their snake_case forms), and "l1_l2", which Keras's
# docs promise (as L1L2(0.01, 0.01)) but its lookup lacks.
_OBJECTS = {"Regularizer": Regularizer, "L1": L1, "L2": L2, "L1L2": L1L2,
            "OrthogonalRegularizer": OrthogonalRegularizer, "regularizer": Regularizer,
            "l1": L1, "l2": L2, "l1l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer):
    if regularizer is None:
        return None
    return {"module": "keras.regularizers", "class_name": type(regularizer).__name__,
            "config": regularizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """A regularizer from what `serialize` returned (or a bare class name)."""
    objects = {**_OBJECTS, **(custom_objects or {})}
    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret regularizer config: {config}")
    name = config["class_name"]
    if name not in objects:
        raise ValueError(f"Unknown regularizer: '{name}'. Please ensure you are using a "
                         "`keras.utils.custom_object_scope` and that this object is included "
                         "in the scope.")
    return objects[name].from_config(config.get("config") or {})


def get(identifier):
    """None, a regularizer, a name ("l1", "l2", "l1_l2", "L1L2", ...) or a config dict."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier == "l1_l2":
            return L1L2(l1=0.01, l2=0.01)
        obj = _OBJECTS.get(identifier)
        if obj is None:
            raise ValueError(f"Could not interpret regularizer identifier: {identifier}")
        return obj()
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier}")


def set_weight_regularization(core_variable, regularizer, what):
    """Hands a weight's regularizer to the engine variable: L1/L2/L1L2 as (l1, l2),
    OrthogonalRegularizer as its factor and mode."""
    if isinstance(regularizer, OrthogonalRegularizer):
        core_variable.set_orthogonal_regularization(regularizer.factor,
                                                    regularizer.mode == "columns")
        return
    from ember import _core

    if isinstance(regularizer, (L1, L2, L1L2)):
        _core.set_regularization(core_variable, *engine_factors(regularizer, what))
        return
    return record_penalty(core_variable, regularizer, what)


def record_penalty(core_variable, regularizer, what):
    """A regularizer of your own (`__call__(x)` written with ember.ops), recorded into a
    graph whose one row is the weight: (graph, input node, penalty node). The model
    runs it in each training step, forward for the penalty and backward for its
    gradient, as it runs a custom loss."""
    from ember import _core, _ops, ops

    if not callable(regularizer):
        raise ValueError(f"{what}: could not interpret regularizer {regularizer!r}")
    graph = _core.Graph()
    node = graph.add_input(list(core_variable.shape), "weight")
    with _ops.recording_a_weight():
        try:
            value = _ops.record(graph, regularizer, [ops.GraphTensor(graph, node)],
                                f"{what}: the regularizer {type(regularizer).__name__}")
        except (TypeError, ValueError, AttributeError) as error:
            raise NotImplementedError(
                f"{what}: the regularizer {regularizer!r} could not be recorded into the "
                f"engine's graph ({error}); write its __call__ with ember.ops on its input, "
                "reducing with ops.sum/ops.mean") from error
    if tuple(graph.row_shape(value)) not in ((), (1,)):
        raise ValueError(f"{what}: the regularizer {type(regularizer).__name__} must return a "
                         f"scalar penalty, got shape {tuple(graph.row_shape(value))}")
    return graph, node, value


def engine_factors(regularizer, what):
    """(l1, l2) for the engine. Only L1, L2 and L1L2 run there: a custom callable would
    need Python in every training step."""
    if isinstance(regularizer, L1L2):
        return regularizer.l1, regularizer.l2
    if isinstance(regularizer, L1):
        return regularizer.l1, 0.0
    if isinstance(regularizer, L2):
        return 0.0, regularizer.l2
    raise NotImplementedError(
        f"{what}: regularizer {regularizer!r} is not supported; ember's engine runs "
        "ember.regularizers.L1, L2 and L1L2 (or their names 'l1', 'l2', 'l1_l2')."
    )


l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

__all__ = ["L1", "L1L2", "L2", "OrthogonalRegularizer", "Regularizer", "deserialize", "get",
           "l1", "l1_l2", "l2", "orthogonal_regularizer", "serialize"]
