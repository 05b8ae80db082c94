"""Regularization layers: Dropout, GaussianNoise, GaussianDropout, AlphaDropout and
ActivityRegularization.

Dropout and GaussianNoise act only in training (`fit`); in `evaluate`,
`predict` and eager calls they pass their input through. Their randomness is
drawn in the engine from a per-layer seed: the `seed` argument, or else one
drawn from ember's global generator when the layer is made, so
`ember.utils.set_random_seed` makes runs repeat.
"""

import numpy as np

from ember import _core, regularizers
from ember import random as _random
from ember.layers.layer import KerasTensor, Layer


def _layer_seed(seed):
    if seed is None:
        return int(_random.generator().integers(0, 2**63))
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(  # noqa: TRY004 (as Keras)
            f"`seed` must be an integer or None. Received: seed={seed}")
    return seed % 2**64


def _op_seed(layer, graph):
    """The seed of one call of a layer Python emits itself (attention's dropout): the node it
    becomes tells a layer called twice in one model apart, and eager training calls each
    draw afresh - the same spreading as the engine's builders (layer_builder.cpp)."""
    from ember.layers.layer import _GOLDEN

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
    _engine_class = "Dropout"

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

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class GaussianNoise(_TrainingCallMixin, Layer):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` in training."""

    supports_masking = True  # passes masks on, as Keras's (issue 11)
    _engine_class = "GaussianNoise"

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

    _engine_class = "GaussianDropout"
    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _checked_rate(rate, "GaussianDropout")
        self.seed = seed
        self._seed = _layer_seed(seed)
        _passes_through(self)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_TrainingCallMixin, Layer):
    """Dropout for SELU networks: in training, drops a fraction `rate` of the inputs to
    SELU's negative saturation value and applies the affine map that keeps the mean and
    variance (Keras's `a * (x * kept + alpha_p * (1 - kept)) + b`); passes them through
    otherwise. `noise_shape` shapes the mask as Dropout's does."""

    _engine_class = "AlphaDropout"
    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _checked_rate(rate, "AlphaDropout")
        self.seed = seed
        self.noise_shape = Dropout._validate_noise_shape(noise_shape)
        self._seed = _layer_seed(seed)
        _passes_through(self)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class ActivityRegularization(Layer):
    """Passes its input through and adds `(l1 * sum(|x|) + l2 * sum(x**2)) / batch_size`
    to the loss, in training and evaluation, as Keras does."""

    supports_masking = True  # passes masks on, as Keras's (issue 11)
    _engine_class = "ActivityRegularization"

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.l1 = l1
        self.l2 = l2
        _passes_through(self)

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

    def get_config(self):
        # Keras's keys exactly: its SpatialDropout takes no `trainable` or `noise_shape`, and
        # writes its dtype as a plain name.
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": "float32"}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of `(batch, steps, channels)` inputs in training: each sample's
    channel is zeroed at every step together, the rest scaled by `1 / (1 - rate)`."""

    _engine_class = "SpatialDropout1D"


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images in training (one draw per sample and channel)."""

    _engine_class = "SpatialDropout2D"
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

    _engine_class = "SpatialDropout3D"
    _ndim = 5
