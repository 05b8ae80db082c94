"""Normalization layers: BatchNormalization, LayerNormalization, the Normalization
preprocessing layer with `adapt()`, and UnitNormalization, RMSNormalization and
GroupNormalization (written with the engine's reduce and element-wise ops, through
ember.ops, so each op's gradient comes from the engine)."""

import math
import warnings

import numpy as np

from ember import _core, constraints, initializers, regularizers
from ember.layers.layer import Layer, weight_options_config
from ember.layers.regularization import _TrainingCallMixin


def _resolve(config, key, module):
    """A serialized initializer / regularizer in a config, rebuilt."""
    from ember.saving import serialization_lib

    if isinstance(config.get(key), dict):
        config[key] = serialization_lib.deserialize_keras_object(config[key],
                                                                 module_objects=vars(module))


def _resolve_gamma_beta(config):
    """Rebuilds the serialized gamma/beta initializers and regularizers of a config."""
    for key in ("beta_initializer", "gamma_initializer"):
        _resolve(config, key, initializers)
    for key in ("beta_regularizer", "gamma_regularizer"):
        _resolve(config, key, regularizers)


def _set_constraints(layer, **given):
    """Sets each `*_constraint` attribute from what the user gave (a name, config or object)."""
    for arg, value in given.items():
        setattr(layer, arg, constraints.get(value))


def _check_axes(axes, input_shape, shown_axis):
    """Keras's message for an axis outside the input's rank."""
    for axis in axes:
        if axis >= len(input_shape) or axis < -len(input_shape):
            raise ValueError(
                f"Axis {axis} is out of bounds for input shape {tuple(input_shape)}. "
                f"Received: axis={shown_axis}"
            )


def _checked_number(value, layer, argument, low=-math.inf, high=math.inf):
    """A float argument in [low, high] (a config from a file may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{layer}: `{argument}` must be a number, got {value!r}")
    value = float(value)
    if not low <= value <= high:
        raise ValueError(f"{layer}: `{argument}` must be in [{low}, {high}], got {value}")
    return value


def _checked_epsilon(value, layer):
    """epsilon: a positive, finite number (a negative one gives NaN outputs)."""
    value = _checked_number(value, layer, "epsilon", 0.0, math.inf)
    if value <= 0.0 or not math.isfinite(value):
        raise ValueError(f"{layer}: `epsilon` must be a positive, finite number, got {value}")
    return value


class BatchNormalization(_TrainingCallMixin, Layer):
    """Normalizes each channel (`axis`) with the batch's mean and variance in training,
    and with moving averages of them (updated by every training step:
    `moving = moving * momentum + batch * (1 - momentum)`) in inference.

    As in Keras 3, a frozen layer (`trainable = False`) runs in inference mode even in
    `fit`, and leaves its moving statistics alone.
    """

    _engine_class = "BatchNormalization"
    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        if synchronized:
            raise ValueError("Argument synchronized=True is only supported with the TensorFlow "
                             "backend.")
        if renorm:
            raise NotImplementedError("BatchNormalization: `renorm=True` is not supported yet")
        _set_constraints(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.synchronized = synchronized
        self.momentum = _checked_number(momentum, "BatchNormalization", "momentum", 0.0, 1.0)
        self.epsilon = _checked_epsilon(epsilon, "BatchNormalization")
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.renorm = renorm
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.supports_masking = True
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        # Shared with the engine ops, so freezing the layer of a built model reaches them.
        self._trainable_flag = _core.LayerTrainable(self.trainable)

    def build(self, input_shape):
        _check_axes([self.axis], input_shape, self.axis)
        if self.axis in (0, -len(input_shape)):
            raise ValueError(f"{self.name}: axis={self.axis} is the batch axis of input shape "
                             f"{tuple(input_shape)}; BatchNormalization normalizes a feature axis")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(f"{self.name}: axis {self.axis} of input shape {tuple(input_shape)} "
                             "must have a known size")
        shape = (channels,)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma",
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, trainable=True,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta",
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, trainable=True,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean",
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        self.built = True

    def compute_output_shape(self, input_shape):
        _check_axes([self.axis], input_shape, self.axis)
        return tuple(input_shape)

    @Layer.trainable.setter
    def trainable(self, value):
        Layer.trainable.fset(self, value)
        if hasattr(self, "_trainable_flag"):
            self._trainable_flag.value = self.trainable

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **weight_options_config(self, "beta", "gamma"),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer":
                    initializers.serialize(self.moving_variance_initializer),
                "synchronized": self.synchronized, "renorm": self.renorm,
                "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        _resolve_gamma_beta(config)
        for key in ("moving_mean_initializer", "moving_variance_initializer"):
            _resolve(config, key, initializers)
        return super().from_config(config)


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (an int or a list of axes) to zero mean and unit
    variance, then scales by `gamma` and shifts by `beta` (shaped like those axes)."""

    _engine_class = "LayerNormalization"
    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        if rms_scaling:
            warnings.warn(
                "You passed `rms_scaling=True`, which is deprecated. This argument incorrectly "
                "scales the input by the variance, not the root mean square. To correctly use "
                "RMS Normalization, please use `keras.layers.RMSNormalization` instead.",
                stacklevel=2,
            )
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', "
                            f"but received: {axis!r}")
        _set_constraints(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.epsilon = _checked_epsilon(epsilon, "LayerNormalization")
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True
        self.gamma = self.beta = None

    def build(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        _check_axes(axes, input_shape, self.axis)
        rank = len(input_shape)
        if any(a % rank == 0 for a in axes):
            raise ValueError(f"{self.name}: axis={self.axis} includes the batch axis of input "
                             f"shape {tuple(input_shape)}; LayerNormalization normalizes each "
                             "sample over its feature axes")
        # As Keras: the axis becomes a sorted list once built.
        self.axis = sorted(axes) if isinstance(self.axis, list) else [self.axis]
        shape = tuple(input_shape[a] for a in self.axis)
        if any(d is None for d in shape):
            raise ValueError(f"{self.name}: the normalized axes {self.axis} of input shape "
                             f"{tuple(input_shape)} must have known sizes")
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape=shape, name="gamma",
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, trainable=True,
                                         constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape=shape, name="beta",
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, trainable=True,
                                        constraint=self.beta_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        _check_axes(axes, input_shape, self.axis)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                **weight_options_config(self, "beta", "gamma")}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        _resolve_gamma_beta(config)
        return super().from_config(config)


class Normalization(Layer):
    """Shifts and scales inputs to zero mean and unit variance per position of `axis`
    (the kept axes; `None`: one mean and variance for everything):
    `(x - mean) / sqrt(variance)`, or the reverse with `invert=True`.

    The statistics are given (`mean`, `variance`) or computed from data by `adapt(data)`,
    which may be called again later: a model already built reads the new values.
    """

    _engine_class = "Normalization"
    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = invert
        self.supports_masking = True
        self._build_input_shape = None
        self.mean = self.variance = None
        self.adapt_mean = self.adapt_variance = self.count = None
        if (mean is not None) != (variance is not None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean} and variance={variance}"
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    "When setting values directly, `mean` and `variance` must have the same "
                    f"shape. Received: mean shape {np.shape(mean)} and variance shape "
                    f"{np.shape(variance)}"
                )
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(
                    "The rank of `mean` must be less than or equal to the number of axes "
                    f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis "
                    f"{self.axis}"
                )

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        self._build_input_shape = input_shape
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                "All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                f"ndim={ndim}, while axis={self.axis}"
            )
        self._keep_axis = tuple(sorted(d if d >= 0 else d + ndim for d in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(
                    f"All `axis` values to be kept must have a known shape. Received "
                    f"axis={self.axis}, inputs.shape={input_shape}, with unknown axis at index {d}"
                )
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1
                                 for d in range(ndim)]
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._mean_and_var_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance",
                                                  shape=self._mean_and_var_shape,
                                                  initializer="ones", trainable=False)
            # Keras keeps an (unused) int count for old saved models; here a float32 0.
            self.count = self.add_weight(name="count", shape=(), initializer="zeros",
                                         trainable=False)
            self.mean, self.variance = self.adapt_mean._core, self.adapt_variance._core
        else:
            # Given statistics broadcast to the kept axes (aligned from the right), as Keras.
            mean = np.asarray(self.input_mean, dtype=np.float32)
            variance = np.asarray(self.input_variance, dtype=np.float32)
            expanded = [1] * ndim
            for i in range(1, mean.ndim + 1):
                expanded[self._keep_axis[-i]] = mean.shape[-i]
            shape = self._mean_and_var_shape

            def fit(v):
                v = np.broadcast_to(v.reshape(expanded), self._broadcast_shape)
                return np.ascontiguousarray(v.reshape(shape), dtype=np.float32)

            # Constants, not weights (Keras keeps them as tensors).
            self.mean = _core.Variable("mean", fit(mean), False)
            self.variance = _core.Variable("variance", fit(variance), False)
        self.built = True

    def adapt(self, data):
        """Computes the mean and variance of `data` (an array, or an iterable of batches)
        for each position of the kept axes."""
        batches = None
        if isinstance(data, np.ndarray) or hasattr(data, "__array__"):
            data = np.asarray(data)
            input_shape = data.shape
        elif hasattr(data, "__iter__"):
            batches = iter(data)
            first = next(batches, None)
            if first is None:
                raise ValueError("adapt() received an empty iterable (no batches). Expected at "
                                 "least one batch.")
            first = np.asarray(first[0] if isinstance(first, tuple) else first)
            input_shape = first.shape
        else:
            raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports "
                            "`np.ndarray` and iterables of batches (e.g. a list).")
        if not self.built:
            self.build(input_shape)
        else:
            for d in self._keep_axis:
                if input_shape[d] != self._build_input_shape[d]:
                    raise ValueError(
                        f"The layer was built with input_shape={self._build_input_shape}, but "
                        f"adapt() is being called with data with an incompatible shape, "
                        f"data.shape={input_shape}"
                    )
        if self.input_mean is not None:
            raise ValueError(f"{self.name} was given `mean` and `variance`; it cannot adapt.")
        if batches is None:
            total_mean = np.mean(data, axis=self._reduce_axis)
            total_var = np.var(data, axis=self._reduce_axis)
        else:
            total_mean, total_var = self._merge_batches(first, batches)
        self.adapt_mean.assign(np.reshape(total_mean, self._mean_and_var_shape))
        self.adapt_variance.assign(np.reshape(total_var, self._mean_and_var_shape))

    def _merge_batches(self, first, rest):
        """Keras's running merge of batch moments (lack-of-fit sum of squares)."""
        total_mean = np.zeros(self._mean_and_var_shape, np.float32)
        total_var = np.zeros(self._mean_and_var_shape, np.float32)
        total_count = 0
        for batch in [first, *rest]:
            batch = np.asarray(batch[0] if isinstance(batch, tuple) else batch, np.float32)
            for d in self._keep_axis:
                if batch.shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"adapt() yielded a batch with incompatible shape. Expected "
                                     f"{self._build_input_shape}, got {batch.shape}.")
            batch_mean = np.mean(batch, axis=self._reduce_axis)
            batch_var = np.var(batch, axis=self._reduce_axis)
            count = int(np.prod([batch.shape[d] for d in self._reduce_axis]))
            total_count += count
            weight = float(count) / total_count
            new_mean = total_mean * (1.0 - weight) + batch_mean * weight
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1.0 - weight)
                         + (batch_var + (batch_mean - new_mean) ** 2) * weight)
            total_mean = new_mean
        return total_mean, total_var

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(),
                "variance": np.array(self.input_variance).tolist()}


def _axes_argument(axis, layer):
    """An int, or a list of ints for a tuple/list (Keras keeps lists as lists)."""
    if isinstance(axis, (list, tuple)):
        if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axis):
            raise TypeError(f"{layer}: `axis` must be an int or a list/tuple of ints, "
                            f"got {axis!r}")
        return [int(a) for a in axis]
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError("Invalid value for `axis` argument: expected an int or a list/tuple of "
                        f"ints. Received: axis={axis}")
    return int(axis)


def _feature_axes(layer, input_shape):
    """The layer's axes as a list, checked against the input's rank and kept off the batch
    axis (which ops inside the engine cannot reduce along)."""
    axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    _check_axes(axes, input_shape, layer.axis)
    if any(a % len(input_shape) == 0 for a in axes):
        raise ValueError(f"{layer.name}: axis={layer.axis} includes the batch axis of input "
                         f"shape {tuple(input_shape)}; it normalizes each sample over its "
                         "feature axes")
    return axes


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm along `axis`: `x * min(rsqrt(sum(x**2)), 1e12)`
    (Keras's `ops.normalize` with epsilon 1e-12)."""

    _engine_class = "UnitNormalization"
    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_argument(axis, "UnitNormalization")
        self.built = True

    def compute_output_shape(self, input_shape):
        _feature_axes(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """Root-mean-square normalization: `x * rsqrt(mean(x**2, axis) + epsilon) * scale`,
    with a trainable `scale` shaped like the normalized axes (initialized to ones)."""

    _engine_class = "RMSNormalization"
    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_argument(axis, "RMSNormalization")
        self.epsilon = _checked_epsilon(epsilon, "RMSNormalization")
        self.scale = None

    def build(self, input_shape):
        axes = _feature_axes(self, input_shape)
        # As Keras: the axis becomes a sorted list once built.
        self.axis = sorted(axes)
        shape = tuple(input_shape[a] for a in self.axis)
        if any(d is None for d in shape):
            raise ValueError(f"{self.name}: the normalized axes {self.axis} of input shape "
                             f"{tuple(input_shape)} must have known sizes")
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")
        self.built = True

    def compute_output_shape(self, input_shape):
        _feature_axes(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class GroupNormalization(Layer):
    """Splits the channels (`axis`) into `groups` groups and normalizes each sample's
    group (its channels and all other axes) to zero mean and unit variance, then scales
    by `gamma` and shifts by `beta` per channel. `groups=-1` is instance normalization
    (one group per channel)."""

    _engine_class = "GroupNormalization"
    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0
                                                                      and groups != -1):
            raise ValueError(
                "Received an invalid value for argument `groups`, expected a positive integer "
                f"(or `-1` for instance normalization). Received: groups={groups}"
            )
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"GroupNormalization: `axis` must be an int, got {axis!r}")
        self.groups = groups
        self.axis = int(axis)
        self.epsilon = _checked_epsilon(epsilon, "GroupNormalization")
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        _set_constraints(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.gamma = self.beta = None

    def build(self, input_shape):
        _feature_axes(self, input_shape)
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension "
                             f"but the layer received an input with shape {input_shape}.")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the number "
                             f"of channels ({dim}).")
        if dim % self.groups != 0:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the "
                             f"number of channels ({dim}).")
        if self.scale:
            self.gamma = self.add_weight(shape=(dim,), name="gamma",
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape=(dim,), name="beta",
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        _feature_axes(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **weight_options_config(self, "beta", "gamma")}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        _resolve_gamma_beta(config)
        return super().from_config(config)
