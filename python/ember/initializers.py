"""`ember.initializers`: Keras's weight initializers (NumPy, float32).

Without a seed they draw from ember's global generator, which
`ember.utils.set_random_seed` resets; with one, each has its own.
"""

import math

import numpy as np

from ember import random as _random


class Initializer:
    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _Seeded(Initializer):
    def __init__(self, seed=None):
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def _generator(self):
        return self._rng if self._rng is not None else _random.generator()

    def get_config(self):
        return {"seed": self.seed}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, np.float32)


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, np.float32)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, np.float32)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(_Seeded):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self._generator().uniform(self.minval, self.maxval, shape).astype(np.float32)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class RandomNormal(_Seeded):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return self._generator().normal(self.mean, self.stddev, shape).astype(np.float32)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(_Seeded):
    """Keras's VarianceScaling: std or limit from scale / fan (fan_in, fan_out or fan_avg)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"Invalid `distribution` argument: {distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(tuple(shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        rng = self._generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            return rng.uniform(-limit, limit, shape).astype(np.float32)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(scale), shape).astype(np.float32)
        # Truncated at two standard deviations; 0.8796... corrects the variance for the cut.
        std = math.sqrt(scale) / 0.87962566103423978
        out = rng.normal(0.0, std, shape)
        bad = np.abs(out) > 2 * std
        while bad.any():
            out[bad] = rng.normal(0.0, std, int(bad.sum()))
            bad = np.abs(out) > 2 * std
        return out.astype(np.float32)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


_ALIASES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_uniform": RandomUniform, "random_normal": RandomNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
}
_ALIASES.update({cls.__name__: cls for cls in set(_ALIASES.values())})


def get(identifier):
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _ALIASES:
            raise ValueError(f"Could not interpret initializer identifier: '{identifier}'")
        return _ALIASES[identifier]()
    if isinstance(identifier, dict):
        return _ALIASES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


def serialize(initializer):
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}
