"""`ember.optimizers`: Keras 3's optimizers. Each is a handle on an engine
optimizer; the update math runs in C++ (cpp/src/cpu/optimizer_kernels.cpp).
"""

from ember import _core

_UNSUPPORTED = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm")


class Optimizer:
    """Base class. `learning_rate` and `iterations` read and write the engine's state."""

    def __init__(self, learning_rate, name, **kwargs):
        for key in _UNSUPPORTED:
            if kwargs.pop(key, None) is not None:
                raise NotImplementedError(f"`{key}` is not supported yet")
        for key in ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                    "gradient_accumulation_steps"):
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments for {name}: {sorted(kwargs)}")
        if not isinstance(learning_rate, (int, float)) or learning_rate < 0:
            raise ValueError(f"`learning_rate` must be a non-negative float, got {learning_rate!r}")
        self.name = name
        self.built = False  # True once a model has trained with it (Keras's optimizer.built)

    @property
    def learning_rate(self):
        return self._core.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._core.learning_rate = float(value)

    @property
    def iterations(self):
        return self._core.iterations

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
                    "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                    "gradient_accumulation_steps"):
            config.pop(key, None)
        return cls(**config)


class SGD(Optimizer):
    r"""Stochastic gradient descent, with momentum and Nesterov momentum.

    .. math::
        m \leftarrow \mu m - \eta g,\quad w \leftarrow w + m
        \quad(\text{nesterov: } w \leftarrow w + \mu m - \eta g)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1], got {momentum}")
        self._core = _core.SGD(float(learning_rate), float(momentum), bool(nesterov))
        self.momentum, self.nesterov = momentum, nesterov

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    r"""Adam.

    .. math::
        m \leftarrow m + (g - m)(1 - \beta_1),\quad v \leftarrow v + (g^2 - v)(1 - \beta_2),\quad
        w \leftarrow w - \frac{\eta\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}\frac{m}{\sqrt{v} + \epsilon}
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adam", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self._core = _core.Adam(float(learning_rate), float(beta_1), float(beta_2),
                                float(epsilon), bool(amsgrad))
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class RMSprop(Optimizer):
    r"""RMSprop.

    .. math::
        v \leftarrow \rho v + (1 - \rho) g^2,\quad
        \Delta = \frac{\eta g}{\sqrt{v + \epsilon}}\ (\text{centered: } \sqrt{v - \bar g^2 + \epsilon}),
        \quad w \leftarrow w - \Delta\ (\text{momentum: } m \leftarrow \mu m + \Delta,\ w \leftarrow w - m)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 name="rmsprop", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self._core = _core.RMSprop(float(learning_rate), float(rho), float(momentum),
                                   float(epsilon), bool(centered))
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict):
        return _BY_NAME[identifier["class_name"].lower()].from_config(identifier["config"])
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")
