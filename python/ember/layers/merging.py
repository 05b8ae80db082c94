"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

Each is called on a list of symbolic tensors (or arrays) and runs as one engine
op (Dot: the engine's per-row MatMul, with Gather transposes around it); shapes are
checked when the layer is called, naming both shapes."""

import math

import numpy as np

from ember import _core, _ops
from ember.layers.layer import KerasTensor, Layer


class Merge(Layer):
    """Element-wise merge of a list of same-shaped inputs."""

    supports_masking = True  # passes masks on, as Keras's (issue 11)

    _kind = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def _check_inputs(self, input_shape):
        if not isinstance(input_shape, list):
            raise ValueError(
                f"A merge layer should be called on a list of inputs. Received: "
                f"input_shape={input_shape} (not a list of shapes)"
            )
        if len(input_shape) < 2:
            raise ValueError(
                f"A merge layer should be called on a list of at least 2 inputs. "
                f"Got {len(input_shape)} inputs."
            )

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        rows = [tuple(s[1:]) for s in input_shape]
        for s in rows[1:]:
            if s != rows[0]:
                raise ValueError(
                    f"Inputs have incompatible shapes. Received shapes {input_shape[0]} and "
                    f"{(None,) + s} in layer {self.name}."
                )
        return tuple(input_shape[0])

    def _emit(self, graph, input_nodes):
        return _core.add_merge(graph, list(input_nodes), self._kind, self.name)

    # Masks (issue 11), as Keras 3's merges: the or of the inputs' masks, none when an input
    # has none. (Keras's Maximum and Minimum also skip masked values; ember's do not yet.)
    def compute_mask(self, inputs, previous_mask=None):
        masks = previous_mask if isinstance(previous_mask, (list, tuple)) else None
        if not masks or any(m is None for m in masks):
            return None
        if isinstance(masks[0], KerasTensor):
            return masks[0]
        return np.logical_or.reduce([np.asarray(m, bool) for m in masks])

    def _emit_mask(self, graph, input_nodes, mask_nodes):
        if not mask_nodes or any(m is None for m in mask_nodes):
            return None
        return _core.add_merge(graph, list(mask_nodes), "maximum", f"{self.name}/mask")


class Add(Merge):
    """Sums its inputs: `Add()([x1, x2])`."""

    _kind = "add"


class Subtract(Merge):
    """`x1 - x2`, for exactly two inputs."""

    _kind = "subtract"

    def _check_inputs(self, input_shape):
        super()._check_inputs(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                "A `Subtract` layer should be called on exactly 2 inputs. "
                f"Received: input_shape={input_shape}"
            )


class Multiply(Merge):
    """Element-wise product of its inputs."""

    _kind = "multiply"


class Average(Merge):
    """Element-wise mean of its inputs."""

    _kind = "average"


class Maximum(Merge):
    """Element-wise maximum of its inputs."""

    _kind = "maximum"


class Minimum(Merge):
    """Element-wise minimum of its inputs."""

    _kind = "minimum"


class Concatenate(Layer):
    """Concatenates a list of inputs along `axis` (default: the last)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.built = True

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(
                "A `Concatenate` layer should be called on a list of at least 2 inputs. "
                f"Received: input_shape={input_shape}"
            )
        rank = len(input_shape[0])
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 0 < axis < rank:
            raise ValueError(f"Concatenate: axis {self.axis} is out of range for inputs of "
                             f"rank {rank} (the batch axis cannot be concatenated)")
        out = list(input_shape[0])
        for shape in input_shape[1:]:
            if len(shape) != rank or any(
                d != e for i, (d, e) in enumerate(zip(shape, input_shape[0])) if i not in (0, axis)
            ):
                raise ValueError(
                    "A `Concatenate` layer requires inputs with matching shapes except for the "
                    f"concatenation axis. Received: input_shape={input_shape}"
                )
            known = out[axis] is not None and shape[axis] is not None
            out[axis] = out[axis] + shape[axis] if known else None
        return tuple(out)

    def _emit(self, graph, input_nodes):
        return _core.add_concatenate(graph, list(input_nodes), int(self.axis), self.name)

    # Masks (issue 11), as Keras's Concatenate: each input's mask (all ones where it has
    # none) broadcast over its features, concatenated along `axis`, then any() over the last
    # axis. Along the features that is the or of the masks; along a step axis the masks are
    # concatenated.
    supports_masking = True

    def _along_features(self, rank):
        return (self.axis + rank if self.axis < 0 else self.axis) == rank - 1

    def compute_mask(self, inputs, previous_mask=None):
        masks = previous_mask if isinstance(previous_mask, (list, tuple)) else None
        if not masks or all(m is None for m in masks):
            return None
        if isinstance(inputs[0], KerasTensor):
            return KerasTensor(self.compute_output_shape([t.shape for t in inputs])[:-1],
                               dtype="bool")
        full = [np.ones(np.shape(x)[:-1], bool) if m is None else np.asarray(m, bool)
                for x, m in zip(inputs, masks)]
        if self._along_features(np.ndim(inputs[0])):
            return np.logical_or.reduce(full)
        return np.concatenate(full, axis=self.axis)

    def _emit_mask(self, graph, input_nodes, mask_nodes):
        if not mask_nodes or all(m is None for m in mask_nodes):
            return None
        rank = len(graph.row_shape(input_nodes[0])) + 1
        if self._along_features(rank):
            if any(m is None for m in mask_nodes):
                return None  # or with an all-ones mask: every step kept
            return _core.add_merge(graph, list(mask_nodes), "maximum", f"{self.name}/mask")
        # An input without a mask keeps every step: x != NaN holds everywhere.
        full = [_core.add_mask(graph, x, False, float("nan"), f"{self.name}/ones_{i}")
                if m is None else m for i, (x, m) in enumerate(zip(input_nodes, mask_nodes))]
        axis = self.axis + rank if self.axis < 0 else self.axis
        return _core.add_concatenate(graph, full, axis, f"{self.name}/mask")

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _normalize_l2(x, axis):
    """Keras's `normalize` (ops.nn.normalize, epsilon 1e-7): x * min(rsqrt(sum(x**2)), 1e7)."""
    inv_norm = _ops.power(_ops.sum(_ops.square(x), axis=axis, keepdims=True), -0.5)
    return _ops.multiply(x, _ops.minimum(inv_norm, 1e7))


def _batch_dot(x, y, axes):
    """Keras's `batch_dot` on two graph values: the contracted axes moved to the end of x
    and the front of y (after the batch axis), any further axes folded into one, one
    MatMul per sample, then the folded axes unfolded and a rank-2 operand's axis dropped."""
    x_ndim, y_ndim = x.ndim, y.ndim
    a0, a1 = axes
    if x_ndim == 2:
        x = _ops.expand_dims(x, 1)
        a0 += 1
    if y_ndim == 2:
        y = _ops.expand_dims(y, 2)
    if a0 != x.ndim - 1:
        x = _ops.transpose(x, [a for a in range(x.ndim) if a != a0] + [a0])
    if a1 != 1:
        y = _ops.transpose(y, [0, a1] + [a for a in range(1, y.ndim) if a != a1])
    x_mid, y_trail = x.shape[1:-1], y.shape[2:]
    x = _ops.reshape(x, (-1, math.prod(x_mid), x.shape[-1]))
    y = _ops.reshape(y, (-1, y.shape[1], math.prod(y_trail)))
    result = _ops.reshape(_ops.matmul(x, y), (-1, *x_mid, *y_trail))
    if x_ndim == 2:
        result = _ops.squeeze(result, 1)
    elif y_ndim == 2:
        result = _ops.squeeze(result, -1)
    return result


class Dot(Layer):
    """Dot product of two samples along one axis of each: `axes` is an int (the same axis
    of both) or a pair; with `normalize=True` both are L2-normalized along it first (the
    cosine similarity). `(b, 3, 5)` and `(b, 10, 3)` with `axes=(1, 2)` give `(b, 5, 10)`;
    `(b, n)` and `(b, n)` with `axes=1` give `(b, 1)`."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, bool) or not isinstance(axes, (int, list, tuple)):
            raise TypeError("Invalid type for argument `axes`: it should be a list or an int. "
                            f"Received: axes={axes}")
        if not isinstance(axes, int):
            if len(axes) != 2:
                raise ValueError("Invalid format for argument `axes`: it should contain two "
                                 f"elements. Received: axes={axes}")
            if any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
                raise ValueError("Invalid format for argument `axes`: list elements should be "
                                 f"integers. Received: axes={axes}")
        self.axes = axes
        self.normalize = normalize
        self.built = True

    def _axes_for(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) != 2:
            raise ValueError("A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={input_shape}")
        shape1, shape2 = input_shape
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError("Cannot do batch_dot on inputs with rank < 2. Received inputs "
                             f"with shapes {tuple(shape1)} and {tuple(shape2)}.")
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        axes = []
        for a, shape in zip(pair, (shape1, shape2)):
            if not -len(shape) <= a < len(shape):
                raise ValueError(f"Dot: axis {a} is out of range for an input of shape "
                                 f"{tuple(shape)}")
            axes.append(a % len(shape))
        if 0 in axes:
            raise ValueError("Cannot perform batch_dot over axis 0 (the batch axis). Received: "
                             f"axes={self.axes}")
        if shape1[axes[0]] != shape2[axes[1]]:
            raise ValueError(f"Incompatible input shapes: axis values {shape1[axes[0]]} (at axis "
                             f"{axes[0]}) != {shape2[axes[1]]} (at axis {axes[1]}). Full input "
                             f"shapes: {tuple(shape1)}, {tuple(shape2)}")
        return axes

    def build(self, input_shape):
        self._axes_for(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        axes = self._axes_for(input_shape)
        shape1 = [d for i, d in enumerate(input_shape[0]) if i != axes[0]]
        shape2 = [d for i, d in enumerate(input_shape[1]) if i != axes[1]][1:]
        out = shape1 + shape2
        return tuple(out) if len(out) > 1 else (out[0], 1)

    def _emit(self, graph, input_nodes):
        if len(input_nodes) != 2:
            raise ValueError("A `Dot` layer should be called on exactly 2 inputs. Received "
                             f"{len(input_nodes)} inputs.")
        x, y = (_ops.GraphTensor(graph, n) for n in input_nodes)
        axes = self._axes_for([x.shape, y.shape])
        if self.normalize:
            x, y = _normalize_l2(x, axes[0]), _normalize_l2(y, axes[1])
        return _batch_dot(x, y, axes)._node

    def compute_mask(self, inputs, previous_mask=None):
        return None  # as Keras's Dot

    def _emit_mask(self, graph, input_nodes, mask_nodes):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)
