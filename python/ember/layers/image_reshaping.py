"""Reshaping layers of convolutional networks: ZeroPadding1D/2D/3D and Cropping1D/2D/3D (one
engine op, padding by signed amounts: a negative one crops), UpSampling1D/2D (nearest-neighbour
repetition, or bilinear interpolation as `jax.image.resize` computes it) and UpSampling3D
(nearest-neighbour repetition as a Gather: a copy through an index map).

Arguments, defaults, config keys and error messages are Keras 3's.
"""

import numbers

from ember.layers.layer import Layer
from ember.layers.pooling import check_ndim, standardize_data_format, standardize_tuple

_ORDINALS = ("1st", "2nd", "3rd")


def _pairs(value, name, count=2):
    """ZeroPadding2D/3D's and Cropping2D/3D's argument: an int, `count` ints or `count`
    pairs -> `count` pairs."""
    what = "padding" if name == "padding" else "crop"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((int(value),) * 2,) * count
    if hasattr(value, "__len__"):
        if len(value) != count:
            raise ValueError(f"`{name}` should have {'two' if count == 2 else count} elements. "
                             f"Received: {name}={value}.")
        return tuple(standardize_tuple(v, 2, f"{_ORDINALS[i]} entry of {name}", allow_zero=True)
                     for i, v in enumerate(value))
    if count == 3:
        raise ValueError(
            f"`{name}` should be either an int, a tuple of 3 ints, or a tuple of 3 tuples of 2 "
            f"ints ((left_dim1_{what}, right_dim1_{what}), ...). Received: {name}={value}.")
    raise ValueError(
        f"`{name}` should be either an int, a tuple of 2 ints "
        f"(symmetric_height_{what}, symmetric_width_{what}), "
        "or a tuple of 2 tuples of 2 ints "
        f"((top_{what}, bottom_{what}), (left_{what}, right_{what})). "
        f"Received: {name}={value}."
    )


class _Pad(Layer):
    """Pads (sign +1) or crops (sign -1) the spatial axes by `self._amounts` pairs."""

    _sign = 1
    _ndim = 3

    def _spatial_offset(self):
        return 2 if getattr(self, "data_format", "channels_last") == "channels_first" else 1

    def build(self, input_shape):
        check_ndim(self, input_shape, self._ndim)
        self.built = True

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self._ndim)
        out = list(input_shape)
        offset = self._spatial_offset()
        for i, (before, after) in enumerate(self._amounts):
            size = out[offset + i]
            if size is not None:
                if self._sign < 0 and before + after >= size:
                    self._too_much_cropping(input_shape)
                out[offset + i] = size + self._sign * (before + after)
        return tuple(out)

    def _too_much_cropping(self, input_shape):
        raise NotImplementedError


class ZeroPadding1D(_Pad):
    """Adds `padding` zeros (an int, or `(before, after)`) at the ends of the steps axis."""

    _engine_class = "ZeroPadding1D"

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        self._amounts = (self.padding,)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding2D(_Pad):
    """Adds rows and columns of zeros around an image: `padding` is an int, `(rows, cols)`
    or `((top, bottom), (left, right))`."""

    _engine_class = "ZeroPadding2D"
    _ndim = 4

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.padding = _pairs(padding, "padding")
        self._amounts = self.padding
        self.built = True

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding3D(_Pad):
    """Adds zeros around a volume: `padding` is an int, 3 ints (one per spatial axis) or 3
    `(before, after)` pairs."""

    _engine_class = "ZeroPadding3D"
    _ndim = 5

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.padding = _pairs(padding, "padding", 3)
        self._amounts = self.padding
        self.built = True

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping1D(_Pad):
    """Removes `cropping` steps (an int, or `(before, after)`) from the ends of the steps
    axis."""

    _engine_class = "Cropping1D"
    _sign = -1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)
        self._amounts = (self.cropping,)
        self.built = True

    def _too_much_cropping(self, input_shape):
        raise ValueError(
            "`cropping` parameter of `Cropping1D` layer must be smaller than the input length. "
            f"Received: input_shape={tuple(input_shape)}, cropping={self.cropping}"
        )

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class Cropping2D(_Pad):
    """Removes rows and columns from the borders of an image: `cropping` is an int,
    `(rows, cols)` or `((top, bottom), (left, right))`."""

    _engine_class = "Cropping2D"
    _sign = -1
    _ndim = 4

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.cropping = _pairs(cropping, "cropping")
        self._amounts = self.cropping
        self.built = True

    def _too_much_cropping(self, input_shape):
        raise ValueError(
            "Values in `cropping` argument should be smaller than the corresponding spatial "
            f"dimension of the input. Received: input_shape={tuple(input_shape)}, "
            f"cropping={self.cropping}"
        )

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}


class Cropping3D(Cropping2D):
    """Removes slices from the borders of a volume: `cropping` is an int, 3 ints (one per
    spatial axis) or 3 `(before, after)` pairs."""

    _engine_class = "Cropping3D"
    _ndim = 5

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        Layer.__init__(self, **kwargs)
        self.data_format = standardize_data_format(data_format)
        self.cropping = _pairs(cropping, "cropping", 3)
        self._amounts = self.cropping
        self.built = True


class _UpSampling(Layer):
    def build(self, input_shape):
        check_ndim(self, input_shape, self._ndim)
        self.built = True

    def _spatial_offset(self):
        return 2 if getattr(self, "data_format", "channels_last") == "channels_first" else 1

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self._ndim)
        out = list(input_shape)
        offset = self._spatial_offset()
        for i, factor in enumerate(self._factors()):
            if out[offset + i] is not None:
                out[offset + i] *= factor
        return tuple(out)


class UpSampling1D(_UpSampling):
    """Repeats each step `size` times along the steps axis."""

    _engine_class = "UpSampling1D"
    _ndim = 3

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"Expected an integer value for `size`, got {type(size)}.")
        if size <= 0:
            raise ValueError(f"Argument `size` should be a positive integer. Received: size={size}")
        self.size = size
        self.built = True

    def _factors(self):
        return (self.size,)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(_UpSampling):
    """Enlarges an image by `size = (rows, cols)`: `interpolation="nearest"` repeats each
    pixel, `"bilinear"` interpolates between pixel centres (as `jax.image.resize`)."""

    _engine_class = "UpSampling2D"
    _ndim = 4
    _interpolations = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.size = standardize_tuple(size, 2, "size")
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in self._interpolations:
            raise ValueError(
                "ember's UpSampling2D supports `interpolation` in "
                f"{self._interpolations}. Received: interpolation={interpolation}"
            )
        self.built = True

    def _factors(self):
        return self.size

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


class UpSampling3D(_UpSampling):
    """Enlarges a volume by `size = (dim1, dim2, dim3)`, repeating each voxel."""

    _engine_class = "UpSampling3D"
    _ndim = 5

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.size = standardize_tuple(size, 3, "size")
        self.built = True

    def _factors(self):
        return self.size

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}
