"""Activation layers: ReLU, LeakyReLU, ELU, PReLU and Softmax.

Each adds one engine op: the Activation op with the layer's parameters (PReLU:
its own op, which also learns `alpha`).
"""

import warnings

from ember import constraints, initializers
from ember.layers.layer import Layer


class ReLU(Layer):
    """Rectified linear unit: `max_value` if `x >= max_value`, `x` if
    `threshold <= x < max_value`, `negative_slope * (x - threshold)` otherwise."""

    _engine_class = "ReLU"
    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError(
                "max_value of a ReLU layer cannot be a negative value. "
                f"Received: max_value={max_value}"
            )
        if negative_slope is None or negative_slope < 0.0:
            raise ValueError(
                "negative_slope of a ReLU layer cannot be None or a negative value. "
                f"Received: negative_slope={negative_slope}"
            )
        if threshold is None or threshold < 0.0:
            raise ValueError(
                "threshold of a ReLU layer cannot be None or a negative value. "
                f"Received: threshold={threshold}"
            )
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold
        self.supports_masking = True
        self.built = True

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """`negative_slope * x` for `x < 0`, `x` for `x >= 0`."""

    _engine_class = "LeakyReLU"
    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(
                "The negative_slope value of a Leaky ReLU layer cannot be None or negative "
                f"value. Expected a float. Received: negative_slope={negative_slope}"
            )
        self.negative_slope = negative_slope
        self.supports_masking = True
        self.built = True

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """Exponential linear unit: `alpha * (exp(x) - 1)` for `x < 0`, `x` for `x >= 0`."""

    _engine_class = "ELU"
    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.supports_masking = True
        self.built = True

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax along `axis` (an int or a list of ints; not the batch axis)."""

    _engine_class = "Softmax"
    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True
        self.built = True

    def __call__(self, inputs, mask=None, **kwargs):
        if mask is not None:
            raise NotImplementedError("Softmax: the `mask` argument is not supported yet")
        return super().__call__(inputs, **kwargs)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """Parametric ReLU: `alpha * x` for `x < 0`, `x` for `x >= 0`, with `alpha` a
    learned array shaped like a sample, of size 1 along `shared_axes`."""

    _engine_class = "PReLU"
    supports_masking = True  # passes masks on, as Keras's (issue 11)

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        if alpha_regularizer is not None:
            raise NotImplementedError("PReLU: `alpha_regularizer` is not supported yet")
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = None
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif not isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = list(shared_axes)
        self.alpha = None

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for i in self.shared_axes or ():
            param_shape[i - 1] = 1  # Keras counts shared axes with the batch axis as 0
        if any(d is None for d in param_shape):
            raise ValueError(
                f"{self.name}: alpha needs every non-shared axis of the input to be known, got "
                f"input shape {tuple(input_shape)} with shared_axes={self.shared_axes}"
            )
        self.alpha = self.add_weight(shape=param_shape, name="alpha",
                                     initializer=self.alpha_initializer,
                                     constraint=self.alpha_constraint)
        self.built = True

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": None,
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("alpha_initializer"), dict):
            config["alpha_initializer"] = initializers.get(config["alpha_initializer"])
        return super().from_config(config)
