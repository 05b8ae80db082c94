"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

Each is called on a list of symbolic tensors (or arrays) and runs as one engine
op (Dot: the engine's per-row MatMul, with Gather transposes around it); shapes are
checked when the layer is called, naming both shapes."""

import numpy as np

from ember.layers.layer import KerasTensor, Layer


class Merge(Layer):
    """Element-wise merge of a list of same-shaped inputs."""

    supports_masking = True  # passes masks on, as Keras's (issue 11)

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

    # Masks (issue 11), as Keras 3's merges: the or of the inputs' masks, none when an input
    # has none. (Keras's Maximum and Minimum also skip masked values; ember's do not yet.)
    def compute_mask(self, inputs, previous_mask=None):
        masks = previous_mask if isinstance(previous_mask, (list, tuple)) else None
        if not masks or any(m is None for m in masks):
            return None
        if isinstance(masks[0], KerasTensor):
            return masks[0]
        return np.logical_or.reduce([np.asarray(m, bool) for m in masks])


class Add(Merge):
    """Sums its inputs: `Add()([x1, x2])`."""

    _engine_class = "Add"


class Subtract(Merge):
    """`x1 - x2`, for exactly two inputs."""

    _engine_class = "Subtract"

    def _check_inputs(self, input_shape):
        super()._check_inputs(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                "A `Subtract` layer should be called on exactly 2 inputs. "
                f"Received: input_shape={input_shape}"
            )


class Multiply(Merge):
    """Element-wise product of its inputs."""

    _engine_class = "Multiply"


class Average(Merge):
    """Element-wise mean of its inputs."""

    _engine_class = "Average"


class Maximum(Merge):
    """Element-wise maximum of its inputs."""

    _engine_class = "Maximum"


class Minimum(Merge):
    """Element-wise minimum of its inputs."""

    _engine_class = "Minimum"


class Concatenate(Layer):
    """Concatenates a list of inputs along `axis` (default: the last)."""

    _engine_class = "Concatenate"

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

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Layer):
    """Dot product of two samples along one axis of each: `axes` is an int (the same axis
    of both) or a pair; with `normalize=True` both are L2-normalized along it first (the
    cosine similarity). `(b, 3, 5)` and `(b, 10, 3)` with `axes=(1, 2)` give `(b, 5, 10)`;
    `(b, n)` and `(b, n)` with `axes=1` give `(b, 1)`."""

    _engine_class = "Dot"

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

    def compute_mask(self, inputs, previous_mask=None):
        return None  # as Keras's Dot

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
