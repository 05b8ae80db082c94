"""Regularization layers: Dropout, GaussianNoise, GaussianDropout, AlphaDropout and
ActivityRegularization.

Dropout and GaussianNoise act only in training (`fit`); in `evaluate`,
`predict` and eager calls they pass their input through. Their randomness is
drawn in the engine from a per-layer seed: the `seed` argument, or else one
drawn from ember's global generator when the layer is made, so
`ember.utils.set_random_seed` makes runs repeat.
"""

import math

import numpy as np

from ember import _core, _ops, regularizers
from ember import random as _random
from ember.layers.layer import KerasTensor, Layer

_GOLDEN = 0x9E3779B97F4A7C15  # spreads the streams of one layer's calls apart


def _layer_seed(seed):
    if seed is None:
        return int(_random.generator().integers(0, 2**63))
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(  # noqa: TRY004 (as Keras)
            f"`seed` must be an integer or None. Received: seed={seed}")
    return seed % 2**64


def _op_seed(layer, graph):
    """The seed of one call of the layer: the node it becomes tells a layer called twice in
    one model apart, and is the same however the model was put together; eager training
    calls (`layer(x, training=True)`) each draw afresh, as Keras's seed generator does."""
    return (layer._seed + (len(graph) + (layer._eager_draws << 32)) * _GOLDEN) % 2**64


def call_in_training(layer, inputs):
    """`layer(x, training=True)` on an array: one forward pass through the engine in
    training mode (dropout and noise active, batch statistics used and the moving ones
    updated)."""
    x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float32))
    if x.ndim == 0:
        raise ValueError(f"{layer.name}: expected an input with a batch axis, got a scalar")
    layer._maybe_build((None,) + x.shape[1:])
    graph = _core.Graph()
    node = graph.add_input(list(x.shape[1:]), "input")
    out = layer._emit(graph, [node])
    return _core.Model(graph, [node], [out]).forward_pass([x], True)[0]


class _TrainingCallMixin:
    """Runs `layer(x, training=True)` on arrays in training mode; everything else as Layer."""

    _eager_draws = 0

    def __call__(self, inputs, training=None, **kwargs):
        if training and not isinstance(inputs, (KerasTensor, list, tuple)):
            self._eager_draws += 1
            return call_in_training(self, inputs)
        return super().__call__(inputs, training=training, **kwargs)


def _passes_through(layer):
    layer.supports_masking = True
    layer.built = True


class Dropout(_TrainingCallMixin, Layer):
    """Sets a fraction `rate` of its inputs to 0 in training and scales the rest by
    `1 / (1 - rate)`.

    `noise_shape` (batch axis first, `None` for "as the input") shapes the mask:
    `(batch, 1, features)` drops the same features at every timestep.
    """

    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value between 0 "
                f"and 1. Received: rate={rate}"
            )
        self.rate = rate
        self.seed = seed
        self.noise_shape = self._validate_noise_shape(noise_shape)
        self._seed = _layer_seed(seed)
        _passes_through(self)

    @staticmethod
    def _validate_noise_shape(noise_shape):
        if noise_shape is None:
            return None
        if isinstance(noise_shape, str):
            raise ValueError(  # noqa: TRY004 (Keras raises ValueError)
                "Invalid value received for argument `noise_shape`. Expected a tuple or list of "
                f"integers. Received: noise_shape={noise_shape}"
            )
        try:
            noise_shape = tuple(noise_shape)
        except TypeError:
            raise ValueError(
                "Invalid value received for argument `noise_shape`. Expected an iterable of "
                f"integers (e.g., a tuple or list). Received: noise_shape={noise_shape}"
            ) from None
        for i, dim in enumerate(noise_shape):
            if dim is None:
                continue
            if isinstance(dim, bool) or not isinstance(dim, int):
                raise ValueError(  # noqa: TRY004 (Keras raises ValueError)
                    "Invalid value received for argument `noise_shape`. Expected all elements "
                    f"to be integers or None. Received element at index {i}: {dim} "
                    f"(type: {type(dim).__name__})"
                )
            if dim <= 0:
                raise ValueError(
                    "Invalid value received for argument `noise_shape`. Expected all dimensions "
                    "to be positive integers or None. Received negative or zero value at index "
                    f"{i}: {dim}"
                )
        return noise_shape

    def _emit(self, graph, input_nodes):
        noise = [] if self.noise_shape is None else [-1 if d is None else d
                                                     for d in self.noise_shape]
        return _core.add_dropout(graph, input_nodes[0], float(self.rate), noise,
                                 _op_seed(self, graph), self.name)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class GaussianNoise(_TrainingCallMixin, Layer):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` in training."""

    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= stddev <= 1:
            raise ValueError(
                "Invalid value received for argument `stddev`. Expected a float value between 0 "
                f"and 1. Received: stddev={stddev}"
            )
        self.stddev = stddev
        self.seed = seed
        self._seed = _layer_seed(seed)
        _passes_through(self)

    def _emit(self, graph, input_nodes):
        return _core.add_gaussian_noise(graph, input_nodes[0], float(self.stddev),
                                        _op_seed(self, graph), self.name)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


def _checked_rate(rate, layer):
    """A rate in [0, 1): at 1 Keras's noise would be infinite (NaN outputs)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise TypeError(f"{layer}: `rate` must be a number, got {rate!r}")
    if not 0 <= rate <= 1:
        raise ValueError("Invalid value received for argument `rate`. Expected a float value "
                         f"between 0 and 1. Received: rate={rate}")
    if rate == 1:
        raise ValueError(f"{layer}: rate=1 makes the noise infinite (every output NaN); "
                         "use a rate below 1")
    return rate


class GaussianDropout(_TrainingCallMixin, Layer):
    """Multiplies its input by Gaussian noise of mean 1 and standard deviation
    `sqrt(rate / (1 - rate))` in training; passes it through otherwise."""

    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _checked_rate(rate, "GaussianDropout")
        self.seed = seed
        self._seed = _layer_seed(seed)
        _passes_through(self)

    def _emit(self, graph, input_nodes):
        if self.rate == 0:
            return input_nodes[0]
        x = _ops.GraphTensor(graph, input_nodes[0])
        # The engine's GaussianNoise acts only in training: noise added to ones is the
        # multiplier there and exactly 1 in inference.
        noise = _core.add_gaussian_noise(graph, _ops.ones_like(x)._node,
                                         math.sqrt(self.rate / (1.0 - self.rate)),
                                         _op_seed(self, graph), self.name)
        return _ops.multiply(x, _ops.GraphTensor(graph, noise))._node

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_TrainingCallMixin, Layer):
    """Dropout for SELU networks: in training, drops a fraction `rate` of the inputs to
    SELU's negative saturation value and applies the affine map that keeps the mean and
    variance (Keras's `a * (x * kept + alpha_p * (1 - kept)) + b`); passes them through
    otherwise. `noise_shape` shapes the mask as Dropout's does."""

    supports_masking = True

    _ALPHA = 1.6732632423543772848170429916717
    _SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _checked_rate(rate, "AlphaDropout")
        self.seed = seed
        self.noise_shape = Dropout._validate_noise_shape(noise_shape)
        self._seed = _layer_seed(seed)
        _passes_through(self)

    def _emit(self, graph, input_nodes):
        if self.rate == 0:
            return input_nodes[0]
        x = _ops.GraphTensor(graph, input_nodes[0])
        rate = float(self.rate)
        noise = [] if self.noise_shape is None else [-1 if d is None else d
                                                     for d in self.noise_shape]
        # The engine's Dropout acts only in training; applied to ones it gives 0 (dropped) or
        # 1 / (1 - rate) (kept) there and 1 in inference. From u = that - 1 (-1, rate /
        # (1 - rate), or 0): `dropped` is 1 where dropped, else 0, and `training` 1 in
        # training, 0 in inference, so one graph serves both modes.
        draw = _core.add_dropout(graph, _ops.ones_like(x)._node, rate, noise,
                                 _op_seed(self, graph), self.name)
        u = _ops.subtract(_ops.GraphTensor(graph, draw), 1.0)
        dropped = _ops.relu(_ops.negative(u))
        training = _ops.add(_ops.multiply(_ops.relu(u), (1.0 - rate) / rate), dropped)
        alpha_p = -self._ALPHA * self._SCALE
        a = ((1.0 - rate) * (1.0 + rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * rate
        # x + training * (a * (x * (1 - dropped) + alpha_p * dropped) + b - x), expanded.
        factor = _ops.subtract(_ops.add(_ops.multiply(training, a - 1.0), 1.0),
                               _ops.multiply(dropped, a))
        offset = _ops.add(_ops.multiply(training, b), _ops.multiply(dropped, a * alpha_p))
        return _ops.add(_ops.multiply(x, factor), offset)._node

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class ActivityRegularization(Layer):
    """Passes its input through and adds `(l1 * sum(|x|) + l2 * sum(x**2)) / batch_size`
    to the loss, in training and evaluation, as Keras does."""

    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.l1 = l1
        self.l2 = l2
        _passes_through(self)

    def _emit(self, graph, input_nodes):
        return _core.add_activity_regularization(graph, input_nodes[0],
                                                 self.activity_regularizer.l1,
                                                 self.activity_regularizer.l2, self.name)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


# ---- spatial dropout (issue 11) -------------------------------------------------------------
class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one draw per sample and channel, shared along the
    spatial axes (Keras's noise shape `(batch, 1, channels)` / `(batch, 1, 1, channels)`)."""

    _ndim = 3

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)

    def build(self, input_shape):
        from ember.layers.pooling import check_ndim

        check_ndim(self, input_shape, self._ndim)
        self.built = True

    def compute_output_shape(self, input_shape):
        from ember.layers.pooling import check_ndim

        check_ndim(self, input_shape, self._ndim)
        return input_shape

    def _channels_first(self):
        return getattr(self, "data_format", "channels_last") == "channels_first"

    def _emit(self, graph, input_nodes):
        self.compute_output_shape((None, *graph.row_shape(input_nodes[0])))
        spatial = [1] * (self._ndim - 2)
        noise = [-1, -1, *spatial] if self._channels_first() else [-1, *spatial, -1]
        return _core.add_dropout(graph, input_nodes[0], float(self.rate), noise,
                                 _op_seed(self, graph), self.name)

    def get_config(self):
        # Keras's keys exactly: its SpatialDropout takes no `trainable` or `noise_shape`, and
        # writes its dtype as a plain name.
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": "float32"}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of `(batch, steps, channels)` inputs in training: each sample's
    channel is zeroed at every step together, the rest scaled by `1 / (1 - rate)`."""


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images in training (one draw per sample and channel)."""

    _ndim = 4

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        from ember.layers.pooling import standardize_data_format

        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.data_format = standardize_data_format(data_format)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout3D(SpatialDropout2D):
    """Drops whole feature volumes of 3-D inputs in training (one draw per sample and
    channel)."""

    _ndim = 5
