"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.

Each is called on a list of symbolic tensors (or arrays) and runs as one engine
op; shapes are checked when the layer is called, naming both shapes."""

import numpy as np

from ember import _core
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
