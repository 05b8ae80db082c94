"""Convolution layers: Conv1D, Conv2D, Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D,
DepthwiseConv2D, SeparableConv1D and SeparableConv2D.

Each is one engine op (ConvOp: im2col over the whole batch, one SGEMM per group, bias and
activation fused into one pass over the output); SeparableConv is two (depthwise, then a 1x1
convolution, which is a plain GEMM). Arguments, defaults, weight shapes, names and order and
the configs are Keras 3's, so weights and files move between Keras and ember unchanged.
"""

import functools
import numbers

from ember import activations, constraints, initializers, regularizers
from ember.layers.layer import Layer, weight_options_config


def _standardize_tuple(value, n, name, allow_zero=False):
    """Keras's standardize_tuple: an int or n ints, positive (or >= 0 with allow_zero)."""
    message = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(message) from None
        if len(values) != n:
            raise ValueError(message)
        for v in values:
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                raise ValueError(message)
        values = tuple(int(v) for v in values)
    low = 0 if allow_zero else 1
    bad = [v for v in values if v < low]
    if bad:
        kind = "`>= 0`" if allow_zero else "`> 0`"
        raise ValueError(f"{message} including values {set(bad)} that do not satisfy {kind}")
    return values


def _standardize_padding(value, allow_causal=False):
    if not isinstance(value, str):
        raise ValueError(f"The `padding` argument must be a string. Received: padding={value!r}")
    padding = value.lower()
    allowed = {"valid", "same", "causal"} if allow_causal else {"valid", "same"}
    if padding not in allowed:
        raise ValueError(f"The `padding` argument must be one of {sorted(allowed)}. "
                         f"Received: {value}")
    return padding


def _standardize_data_format(value):
    if value is None:
        return "channels_last"
    data_format = str(value).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={value}")
    return data_format


def _set_constraints(layer, **given):
    """Sets each `*_constraint` attribute from what the user gave (a name, config or object)."""
    for arg, value in given.items():
        setattr(layer, arg, constraints.get(value))


def _resolve(config, keys, module):
    from ember.saving import serialization_lib

    for key in keys:
        if isinstance(config.get(key), dict):
            config[key] = serialization_lib.deserialize_keras_object(
                config[key], module_objects=vars(module))


def _names_layer_in_errors(init):
    """A bad argument's ValueError names the layer it was given to."""
    @functools.wraps(init)
    def checked_init(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except ValueError as e:
            name = getattr(self, "name", None) or kwargs.get("name")
            where = f"{type(self).__name__} '{name}'" if name else type(self).__name__
            raise ValueError(f"{where}: {e}") from None

    return checked_init


def _conv_output_length(length, kernel, stride, dilation, padding):
    """Keras's compute_conv_output_shape along one axis (None stays None)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - dilation * (kernel - 1) - 1) // stride + 1
    return (length - 1) // stride + 1


def _conv_transpose_output_length(length, kernel, stride, dilation, padding, output_padding):
    """The output length jax's conv_transpose gives for Keras's arguments (Keras's
    backend_utils conversion to jax's padding)."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        left, right = effective - 1, effective - 1 + extra
    else:
        pad_len = (stride + effective - 2 if output_padding is None
                   else effective + effective % 2 - 2 + output_padding)
        left = min(pad_len // 2 + pad_len % 2, effective - 1)
        right = pad_len - left
    return (length - 1) * stride + left + right - effective + 2


class _Conv(Layer):
    """What every convolution layer shares: argument checks, the input's rank and channels,
    the output shape, and emitting the engine's op."""

    _transpose = False

    def _init_common(self, rank, kernel_size, strides, padding, data_format, dilation_rate,
                     activation, use_bias, activity_regularizer, allow_causal=False):
        self.rank = rank
        self.kernel_size = _standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = _standardize_tuple(strides, rank, "strides")
        self.dilation_rate = _standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = _standardize_padding(padding, allow_causal=allow_causal)
        self.data_format = _standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if self.activity_regularizer is not None:  # fail here, not when the model is built
            regularizers.engine_factors(self.activity_regularizer, self.name)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.bias = None

    # -- shapes ----------------------------------------------------------------------------
    def _check_input(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"ndim={self.rank + 2}, found ndim={len(input_shape)}. Full shape received: "
                f"{input_shape}")
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        if channels is None:
            raise ValueError(f"{self.name}: the channel dimension of the input must be known, "
                             f"got input shape {input_shape}")
        return input_shape, channels

    def _spatial(self, input_shape):
        return (input_shape[1:-1] if self.data_format == "channels_last"
                else input_shape[2:])

    def _with_spatial(self, input_shape, spatial, channels):
        if self.data_format == "channels_last":
            return (input_shape[0],) + tuple(spatial) + (channels,)
        return (input_shape[0], channels) + tuple(spatial)

    def _output_spatial(self, input_shape):
        spatial = self._spatial(input_shape)
        if self._transpose:
            padding = self.output_padding or (None,) * self.rank
            return tuple(_conv_transpose_output_length(n, k, s, d, self.padding, p)
                         for n, k, s, d, p in zip(spatial, self.kernel_size, self.strides,
                                                  self.dilation_rate, padding))
        out = tuple(_conv_output_length(n, k, s, d, self.padding)
                    for n, k, s, d in zip(spatial, self.kernel_size, self.strides,
                                          self.dilation_rate))
        if any(n is not None and n <= 0 for n in out):
            raise ValueError(
                f"{self.name}: the kernel of size {self.kernel_size} (dilation_rate="
                f"{self.dilation_rate}) is larger than the input's spatial shape "
                f"{tuple(spatial)} under padding='valid': computed output size would be zero or "
                f"negative. Received input shape {tuple(input_shape)}, strides={self.strides}.")
        return out

    def compute_output_shape(self, input_shape):
        input_shape, _ = self._check_input(input_shape)
        return self._with_spatial(input_shape, self._output_spatial(input_shape),
                                  self._output_channels(input_shape))

    # -- the engine --------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config):
        config = dict(config)
        _resolve(config, [k for k in config if k.endswith("_initializer")], initializers)
        _resolve(config, [k for k in config if k.endswith("_regularizer")], regularizers)
        return super().from_config(config)

    def _common_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate}


class BaseConv(_Conv):
    """Conv1D / Conv2D: `activation(conv(inputs, kernel) + bias)`."""

    @_names_layer_in_errors
    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(**kwargs)
        if lora_rank is not None:
            raise NotImplementedError(f"{type(self).__name__}: `lora_rank` is not supported yet")
        _set_constraints(self, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint)
        self._init_common(rank, kernel_size, strides, padding, data_format, dilation_rate,
                          activation, use_bias, activity_regularizer, allow_causal=rank == 1)
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             f"value. Received filters={filters}.")
        if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. "
                             f"Received: groups={groups}.")
        if filters % groups != 0:
            raise ValueError("The number of filters must be evenly divisible by the number of "
                             f"groups. Received: groups={groups}, filters={filters}.")
        self.filters, self.groups = int(filters), int(groups)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = None

    def _output_channels(self, input_shape):
        return self.filters

    def build(self, input_shape):
        input_shape, channels = self._check_input(input_shape)
        if channels % self.groups != 0:
            raise ValueError(
                f"{self.name}: the number of input channels must be evenly divisible by the "
                f"number of groups. Received groups={self.groups}, but the input has {channels} "
                f"channels (full input shape is {input_shape}).")
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(
            shape=self.kernel_size + (channels // self.groups, self.filters),
            initializer=self.kernel_initializer, name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        name="bias", regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def get_config(self):
        config = self._common_config()
        config.update({
            "filters": self.filters, "groups": self.groups,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **weight_options_config(self, "kernel", "bias")})
        return config


class Conv1D(BaseConv):
    """1-D convolution over (batch, steps, channels); `padding="causal"` pads the start only,
    so that output t sees inputs up to t."""

    _engine_class = "Conv1D"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, groups=groups,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                         **kwargs)


class Conv2D(BaseConv):
    """2-D convolution over (batch, rows, cols, channels) (channels_first: (batch, channels,
    rows, cols))."""

    _engine_class = "Conv2D"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, groups=groups,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                         **kwargs)


class BaseConvTranspose(_Conv):
    """Conv1DTranspose / Conv2DTranspose: the adjoint of a convolution (kernel
    (k..., filters, in)), the output size Keras's jax backend gives."""

    _transpose = True

    @_names_layer_in_errors
    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 output_padding=None, data_format=None, dilation_rate=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        _set_constraints(self, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint)
        self._init_common(rank, kernel_size, strides, padding, data_format, dilation_rate,
                          activation, use_bias, activity_regularizer)
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             f"value. Received filters={filters}.")
        self.filters = int(filters)
        self.output_padding = (None if output_padding is None else
                               _standardize_tuple(output_padding, rank, "output_padding",
                                                  allow_zero=True))
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(
                        "`output_padding` must be strictly less than `strides` for all "
                        f"dimensions. At dimension {i}, `output_padding` is {op} but `strides` "
                        f"is {s}. Received: output_padding={self.output_padding}, "
                        f"strides={self.strides}")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = None

    def _output_channels(self, input_shape):
        return self.filters

    def build(self, input_shape):
        input_shape, channels = self._check_input(input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(shape=self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        name="bias", regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def get_config(self):
        config = self._common_config()
        config.update({
            "filters": self.filters, "output_padding": self.output_padding,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **weight_options_config(self, "kernel", "bias")})
        return config


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1-D convolution ("deconvolution") over (batch, steps, channels)."""

    _engine_class = "Conv1DTranspose"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides=strides, padding=padding,
                         output_padding=output_padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                         **kwargs)


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2-D convolution ("deconvolution") over (batch, rows, cols, channels)."""

    _engine_class = "Conv2DTranspose"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides=strides, padding=padding,
                         output_padding=output_padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                         **kwargs)


class BaseDepthwiseConv(_Conv):
    """DepthwiseConv1D / 2D: each input channel convolved with its own `depth_multiplier`
    filters (kernel (k..., in, depth_multiplier); output channel c * multiplier + m)."""

    @_names_layer_in_errors
    def __init__(self, rank, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        _set_constraints(self, depthwise_constraint=depthwise_constraint,
                        bias_constraint=bias_constraint)
        self._init_common(rank, kernel_size, strides, padding, data_format, dilation_rate,
                          activation, use_bias, activity_regularizer)
        if (not isinstance(depth_multiplier, numbers.Integral) or isinstance(depth_multiplier, bool)
                or depth_multiplier <= 0):
            raise ValueError("Invalid value for argument `depth_multiplier`. Expected a strictly "
                             f"positive value. Received depth_multiplier={depth_multiplier}.")
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = None

    def _output_channels(self, input_shape):
        _, channels = self._check_input(input_shape)
        return channels * self.depth_multiplier

    def build(self, input_shape):
        input_shape, channels = self._check_input(input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(shape=self.kernel_size + (channels, self.depth_multiplier),
                                      initializer=self.depthwise_initializer, name="kernel",
                                      regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=(channels * self.depth_multiplier,),
                                        initializer=self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def get_config(self):
        config = self._common_config()
        config.update({
            "depth_multiplier": self.depth_multiplier,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **weight_options_config(self, "depthwise", "bias")})
        return config


class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution over (batch, steps, channels)."""

    _engine_class = "DepthwiseConv1D"

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         depthwise_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer,
                         depthwise_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         depthwise_constraint=depthwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)


class DepthwiseConv2D(BaseDepthwiseConv):
    """Depthwise 2-D convolution over (batch, rows, cols, channels)."""

    _engine_class = "DepthwiseConv2D"

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         depthwise_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer,
                         depthwise_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         depthwise_constraint=depthwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)


class BaseSeparableConv(_Conv):
    """SeparableConv1D / 2D: a depthwise convolution (`depthwise_kernel`, no bias), then a 1x1
    convolution (`pointwise_kernel` (1..., in * depth_multiplier, filters)) with the bias and
    activation."""

    @_names_layer_in_errors
    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        _set_constraints(self, depthwise_constraint=depthwise_constraint,
                        pointwise_constraint=pointwise_constraint,
                        bias_constraint=bias_constraint)
        self._init_common(rank, kernel_size, strides, padding, data_format, dilation_rate,
                          activation, use_bias, activity_regularizer)
        if (not isinstance(depth_multiplier, numbers.Integral) or isinstance(depth_multiplier, bool)
                or depth_multiplier <= 0):
            raise ValueError("Invalid value for argument `depth_multiplier`. Expected a strictly "
                             f"positive value. Received depth_multiplier={depth_multiplier}.")
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             f"value. Received filters={filters}.")
        self.filters, self.depth_multiplier = int(filters), int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_kernel = self.pointwise_kernel = None

    def _output_channels(self, input_shape):
        return self.filters

    def build(self, input_shape):
        input_shape, channels = self._check_input(input_shape)
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (channels, self.depth_multiplier),
            initializer=self.depthwise_initializer, name="depthwise_kernel",
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            shape=(1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, name="pointwise_kernel",
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        name="bias", regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def get_config(self):
        config = self._common_config()
        config.update({
            "depth_multiplier": self.depth_multiplier, "filters": self.filters,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **weight_options_config(self, "depthwise", "pointwise", "bias")})
        return config


class SeparableConv1D(BaseSeparableConv):
    """Depthwise-separable 1-D convolution over (batch, steps, channels)."""

    _engine_class = "SeparableConv1D"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(1, filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         depth_multiplier=depth_multiplier, activation=activation,
                         use_bias=use_bias, depthwise_initializer=depthwise_initializer,
                         pointwise_initializer=pointwise_initializer,
                         bias_initializer=bias_initializer,
                         depthwise_regularizer=depthwise_regularizer,
                         pointwise_regularizer=pointwise_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         depthwise_constraint=depthwise_constraint,
                         pointwise_constraint=pointwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)


class SeparableConv2D(BaseSeparableConv):
    """Depthwise-separable 2-D convolution over (batch, rows, cols, channels)."""

    _engine_class = "SeparableConv2D"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(2, filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         depth_multiplier=depth_multiplier, activation=activation,
                         use_bias=use_bias, depthwise_initializer=depthwise_initializer,
                         pointwise_initializer=pointwise_initializer,
                         bias_initializer=bias_initializer,
                         depthwise_regularizer=depthwise_regularizer,
                         pointwise_regularizer=pointwise_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         depthwise_constraint=depthwise_constraint,
                         pointwise_constraint=pointwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)


# Keras's aliases.
Convolution1D, Convolution2D = Conv1D, Conv2D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
