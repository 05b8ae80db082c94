"""Pooling layers: Max/AveragePooling1D/2D (one engine op, max or average windows) and
GlobalMax/GlobalAveragePooling1D/2D (a max or mean over the spatial axes: the engine's Reduce
op, whose max gradient splits ties evenly as jax's does).

Arguments, defaults, config keys and error messages are Keras 3's. The engine's SAME padding
is XLA's (the odd pixel after); average pooling under it divides by the count of real
pixels in each window, as Keras on jax does.
"""

import numbers

from ember.layers.layer import Layer


def standardize_data_format(data_format):
    if data_format is None:
        return "channels_last"
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format}"
        )
    return data_format


def standardize_tuple(value, n, name, allow_zero=False):
    """Keras's argument_validation.standardize_tuple: an int or n ints, as a tuple."""
    error_msg = (f"The `{name}` argument must be a tuple of {n} integers. "
                 f"Received {name}={value}")
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value_tuple = (int(value),) * n
    else:
        try:
            value_tuple = tuple(value)
        except TypeError:
            raise ValueError(error_msg) from None
        if len(value_tuple) != n:
            raise ValueError(error_msg)
        for v in value_tuple:
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                error_msg += f"including element {v} of type {type(v)}"
                raise ValueError(error_msg)
        value_tuple = tuple(int(v) for v in value_tuple)
    if allow_zero:
        bad = {v for v in value_tuple if v < 0}
        req = ">= 0"
    else:
        bad = {v for v in value_tuple if v <= 0}
        req = "> 0"
    if bad:
        raise ValueError(f"{error_msg}, including values {bad} that do not satisfy `value {req}`")
    return value_tuple


def check_ndim(layer, input_shape, ndim):
    """Keras's InputSpec(ndim=...) check, with its message."""
    if len(input_shape) != ndim:
        raise ValueError(
            f'Input 0 of layer "{layer.name}" is incompatible with the layer: expected '
            f"ndim={ndim}, found ndim={len(input_shape)}. Full shape received: "
            f"{tuple(input_shape)}"
        )


class _Pooling(Layer):
    """Max or average pooling over `pool_dimensions` spatial axes."""

    def __init__(self, pool_size, strides, pool_dimensions, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = standardize_tuple(pool_size, pool_dimensions, "pool_size")
        strides = pool_size if strides is None else strides
        self.strides = standardize_tuple(strides, pool_dimensions, "strides", allow_zero=True)
        if 0 in self.strides:
            raise ValueError(f"The `strides` argument must be positive. Received "
                             f"strides={strides}")
        self.padding = padding
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError("Argument `padding` must be either 'valid' or 'same'. Received: "
                             f"padding={padding}")
        self.data_format = standardize_data_format(data_format)
        self._ndim = pool_dimensions + 2
        self.built = True

    def build(self, input_shape):
        check_ndim(self, input_shape, self._ndim)
        self.built = True

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self._ndim)
        spatial = input_shape[1:-1] if self.data_format == "channels_last" else input_shape[2:]
        out = []
        for size, pool, stride in zip(spatial, self.pool_size, self.strides):
            if size is None:
                out.append(None)
            elif self.padding.lower() == "same":
                out.append((size - 1) // stride + 1)
            else:
                if size < pool:
                    raise ValueError(
                        "Computed output size would be zero or negative. Received: "
                        f"`inputs.shape={tuple(input_shape)}`, `pool_size={self.pool_size}`, "
                        f"`strides={self.strides}`, `padding={self.padding}`."
                    )
                out.append((size - pool) // stride + 1)
        if self.data_format == "channels_last":
            return (input_shape[0], *out, input_shape[-1])
        return (input_shape[0], input_shape[1], *out)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    """Max pooling over windows of `pool_size` steps, `strides` apart (default: `pool_size`)."""

    _engine_class = "MaxPooling1D"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, 1, padding, data_format, name, **kwargs)


class MaxPooling2D(_Pooling):
    """Max pooling over `pool_size` windows of an image, `strides` apart (default:
    `pool_size`)."""

    _engine_class = "MaxPooling2D"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, 2, padding, data_format, name, **kwargs)


class AveragePooling1D(_Pooling):
    """Average pooling over windows of `pool_size` steps; with `padding="same"` each window
    averages the steps it covers."""

    _engine_class = "AveragePooling1D"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, 1, padding, data_format, name, **kwargs)


class AveragePooling2D(_Pooling):
    """Average pooling over `pool_size` windows of an image; with `padding="same"` each window
    averages the pixels it covers."""

    _engine_class = "AveragePooling2D"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, 2, padding, data_format, name, **kwargs)


class _GlobalPooling(Layer):
    """A max or mean over every spatial axis (`keepdims` keeps them with length 1)."""

    def __init__(self, pool_dimensions, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = keepdims
        self._ndim = pool_dimensions + 2
        self.built = True

    def build(self, input_shape):
        check_ndim(self, input_shape, self._ndim)
        self.built = True

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self._ndim)
        spatial = self._ndim - 2
        if self.data_format == "channels_last":
            if self.keepdims:
                return (input_shape[0],) + (1,) * spatial + (input_shape[-1],)
            return (input_shape[0], input_shape[-1])
        if self.keepdims:
            return (input_shape[0], input_shape[1]) + (1,) * spatial
        return (input_shape[0], input_shape[1])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    """The max over the steps axis: `(batch, steps, features)` -> `(batch, features)`."""

    _engine_class = "GlobalMaxPooling1D"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)


class GlobalMaxPooling2D(_GlobalPooling):
    """The max over height and width: `(batch, h, w, channels)` -> `(batch, channels)`."""

    _engine_class = "GlobalMaxPooling2D"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, data_format, keepdims, **kwargs)


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the steps axis: `(batch, steps, features)` -> `(batch, features)`.

    Keras averages only the unmasked steps when a mask arrives (from Embedding(mask_zero)
    or Masking): sum(x * mask) / sum(mask) over the steps."""

    _engine_class = "GlobalAveragePooling1D"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)
        self.supports_masking = True


class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over height and width: `(batch, h, w, channels)` -> `(batch, channels)`."""

    _engine_class = "GlobalAveragePooling2D"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, data_format, keepdims, **kwargs)


# Keras's aliases.
MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
