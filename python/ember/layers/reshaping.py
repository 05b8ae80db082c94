"""Reshaping layers: Flatten and Reshape (a row-major copy in the engine), Permute and
RepeatVector (the engine's Gather op: a copy through an index map)."""

import math
import numbers

from ember.layers.layer import Layer


def _standardize_data_format(data_format):
    if data_format is None:
        return "channels_last"
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format}"
        )
    return data_format


class Flatten(Layer):
    """Flattens each sample to one axis: `(batch, d1, d2, ...)` -> `(batch, d1 * d2 * ...)`.
    With `data_format="channels_first"` the channel axis is moved last first."""

    _engine_class = "Flatten"

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _standardize_data_format(data_format)
        self.built = True

    def compute_output_shape(self, input_shape):
        dims = tuple(input_shape[1:])
        if not dims:
            flat = 1
        elif any(d is None for d in dims):
            flat = None
        else:
            flat = math.prod(dims)
        return (input_shape[0], flat)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def _validate_target_shape(target_shape):
    unknown = 0
    for dim in target_shape:
        if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
            raise TypeError(f"Each dimension in `target_shape` must be an integer. Received: "
                            f"target_shape={target_shape}.")
        if dim < -1:
            raise ValueError(
                "Each dimension in `target_shape` must be a non-negative integer, or `-1` for a "
                f"single unknown dimension. Received: target_shape={target_shape}."
            )
        unknown += dim == -1
    if unknown > 1:
        raise ValueError("There must be at most one unknown dimension (-1) in `target_shape`. "
                         f"Received: target_shape={target_shape}.")


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (the batch axis stays); one entry may be -1,
    inferred from the others."""

    _engine_class = "Reshape"

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        _validate_target_shape(target_shape)
        target_shape = tuple(int(d) for d in target_shape)
        self.target_shape = target_shape
        self.built = True

    def compute_output_shape(self, input_shape):
        dims = tuple(input_shape[1:])
        if None in dims:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(dims)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 not in self.target_shape:
            if size != known:
                raise ValueError(
                    "The total size of the tensor must be unchanged. Received: "
                    f"input_shape={dims}, target_shape={self.target_shape}"
                )
            return (input_shape[0],) + self.target_shape
        if known == 0 or size % known != 0:
            raise ValueError(
                "The total size of the tensor must be unchanged, however, the input size cannot "
                "by divided by the specified dimensions in target_shape. Received: "
                f"input_shape={dims}, target_shape={self.target_shape}"
            )
        return (input_shape[0],) + tuple(size // known if d == -1 else d
                                         for d in self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permutes the axes after the batch axis: `dims` is a permutation of 1..rank-1,
    e.g. `Permute((2, 1))` swaps the two axes of `(batch, steps, features)`."""

    _engine_class = "Permute"

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(dims)
        except TypeError:
            raise TypeError(f"Permute: `dims` must be a tuple of integers, got {dims!r}") from None
        if any(isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in dims):
            raise TypeError(f"Permute: `dims` must be a tuple of integers, got {dims!r}")
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices in "
                f"`dims` must be consecutive and start from 1. Received dims={dims}"
            )
        self.dims = tuple(int(d) for d in dims)
        self.built = True

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"ndim={len(self.dims) + 1}, found ndim={len(input_shape)}. Full shape "
                f"received: {tuple(input_shape)}"
            )
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats each sample's vector `n` times: `(batch, features)` -> `(batch, n, features)`."""

    _engine_class = "RepeatVector"

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = int(n)
        self.built = True

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"ndim=2, found ndim={len(input_shape)}. Full shape received: "
                f"{tuple(input_shape)}"
            )
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
