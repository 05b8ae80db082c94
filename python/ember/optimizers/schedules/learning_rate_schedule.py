"""Learning-rate schedules with Keras 3's names, arguments and float32 values.

Each built-in schedule is a handle on an engine schedule (`self._core`); the
optimizer evaluates that one in C++ at its iteration count before every step,
and `schedule(step)` asks the same object. A user's subclass that overrides
`__call__` in Python still works: the optimizer calls it once per step.
"""

import numpy as np

from ember import _core


class LearningRateSchedule:
    """The learning rate as a function of the optimizer's step.

    Subclass it and override `__call__(self, step)` (and `get_config`) for a
    schedule of your own; pass an instance as an optimizer's `learning_rate`.
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' "
            "must override `__call__(self, step)`."
        )

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' "
            "must override `get_config()` in order to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _engine_call(self, step):
    """`schedule(step)` of the built-in schedules: float32 rates from the engine.

    Integer steps (what an optimizer passes) and float steps are computed as Keras
    computes each; arrays of steps give arrays of rates.
    """
    steps = np.asarray(step)
    if steps.dtype.kind in "biu":
        rates = self._core.at_steps(steps.astype(np.int64).ravel())
    else:
        rates = self._core.at(steps.astype(np.float32).ravel())
    rates = rates.reshape(steps.shape)
    return rates[()] if steps.ndim == 0 else rates


def _engine_property(name, convert=float):
    """An argument kept as the user gave it (for get_config) and pushed to the engine."""

    def get(self):
        return self._arguments[name]

    def set(self, value):
        setattr(self._core, name, None if value is None else convert(value))
        self._arguments[name] = value

    return property(get, set)


class _EngineSchedule(LearningRateSchedule):
    __call__ = _engine_call

    def _bind(self, engine, **arguments):
        self._core = engine
        self._arguments = arguments


class ExponentialDecay(_EngineSchedule):
    r"""Exponential decay.

    .. math:: \eta(t) = \eta_0 \cdot r^{t / T}\quad(\text{staircase: } r^{\lfloor t/T \rfloor})
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__()
        self._bind(_core.ExponentialDecay(float(initial_learning_rate), float(decay_steps),
                                          float(decay_rate), bool(staircase)),
                   initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                   decay_rate=decay_rate, staircase=staircase)
        self.name = name

    initial_learning_rate = _engine_property("initial_learning_rate")
    decay_steps = _engine_property("decay_steps")
    decay_rate = _engine_property("decay_rate")
    staircase = _engine_property("staircase", bool)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


def _boundary(b):
    """A boundary as Keras holds it: an int stays exact, a float becomes float32."""
    if isinstance(b, (bool, int, np.integer)):
        return float(int(b))
    return float(np.float32(b))


class PiecewiseConstantDecay(_EngineSchedule):
    r"""Piecewise constant: `values[0]` while step <= `boundaries[0]`, `values[i]` while
    `boundaries[i-1]` < step <= `boundaries[i]`, then `values[-1]`.

    Integer steps meet float boundaries truncated to integers, as in Keras.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        super().__init__()
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of "
                f"values. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} "
                f"of length {len(values)}."
            )
        self._bind(_core.PiecewiseConstantDecay([_boundary(b) for b in boundaries],
                                                [float(v) for v in values]))
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(_EngineSchedule):
    r"""Polynomial decay from `initial_learning_rate` to `end_learning_rate`.

    .. math:: \eta(t) = (\eta_0 - \eta_{end})(1 - \min(t, T)/T)^{p} + \eta_{end}

    With `cycle`, T grows to the first multiple of `decay_steps` past t instead.
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        super().__init__()
        self._bind(_core.PolynomialDecay(float(initial_learning_rate), float(decay_steps),
                                         float(end_learning_rate), float(power), bool(cycle)),
                   initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                   end_learning_rate=end_learning_rate, power=power, cycle=cycle)
        self.name = name

    initial_learning_rate = _engine_property("initial_learning_rate")
    decay_steps = _engine_property("decay_steps")
    end_learning_rate = _engine_property("end_learning_rate")
    power = _engine_property("power")
    cycle = _engine_property("cycle", bool)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_EngineSchedule):
    r"""Inverse time decay.

    .. math:: \eta(t) = \frac{\eta_0}{1 + r \cdot t / T}

    With `staircase`, t / T is floored.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__()
        self._bind(_core.InverseTimeDecay(float(initial_learning_rate), float(decay_steps),
                                          float(decay_rate), bool(staircase)),
                   initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                   decay_rate=decay_rate, staircase=staircase)
        self.name = name

    initial_learning_rate = _engine_property("initial_learning_rate")
    decay_steps = _engine_property("decay_steps")
    decay_rate = _engine_property("decay_rate")
    staircase = _engine_property("staircase", bool)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class CosineDecay(_EngineSchedule):
    r"""Cosine decay, with an optional linear warmup.

    Without `warmup_target`: :math:`\eta(t) = \eta_0((1 - \alpha)c(t) + \alpha)` with
    :math:`c(t) = \frac{1}{2}(1 + \cos(\pi \min(t, T) / T))`. With it, the rate rises
    linearly from `initial_learning_rate` to `warmup_target` over `warmup_steps`, then
    decays from `warmup_target` the same way.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        super().__init__()
        self._bind(_core.CosineDecay(float(initial_learning_rate), float(decay_steps),
                                     float(alpha),
                                     None if warmup_target is None else float(warmup_target),
                                     float(warmup_steps)),
                   initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                   alpha=alpha, warmup_target=warmup_target, warmup_steps=warmup_steps)
        self.name = name

    initial_learning_rate = _engine_property("initial_learning_rate")
    decay_steps = _engine_property("decay_steps")
    alpha = _engine_property("alpha")
    warmup_target = _engine_property("warmup_target")
    warmup_steps = _engine_property("warmup_steps")

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(_EngineSchedule):
    r"""Cosine decay with warm restarts (SGDR).

    The first period lasts `first_decay_steps`; each next one is `t_mul` times longer
    and starts `m_mul` times lower. Within a period,
    :math:`\eta = \eta_0((1 - \alpha) m \tfrac{1}{2}(1 + \cos(\pi f)) + \alpha)`, f the
    fraction of the period done and m = m_mul ** (restarts so far).
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        super().__init__()
        self._bind(_core.CosineDecayRestarts(float(initial_learning_rate),
                                             float(first_decay_steps), float(t_mul), float(m_mul),
                                             float(alpha)),
                   initial_learning_rate=initial_learning_rate,
                   first_decay_steps=first_decay_steps, t_mul=t_mul, m_mul=m_mul, alpha=alpha)
        self.name = name

    initial_learning_rate = _engine_property("initial_learning_rate")
    first_decay_steps = _engine_property("first_decay_steps")
    _t_mul = _engine_property("t_mul")  # Keras's attribute names
    _m_mul = _engine_property("m_mul")
    alpha = _engine_property("alpha")

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_BUILT_IN = {cls.__name__: cls for cls in (
    ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay,
    CosineDecayRestarts)}


def serialize(learning_rate_schedule):
    """The schedule as Keras's serialized dict (what `.keras` files hold)."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(
            f"Could not serialize learning rate schedule: {learning_rate_schedule!r}")
    cls = type(learning_rate_schedule)
    built_in = _BUILT_IN.get(cls.__name__) is cls
    return {
        "module": "keras.optimizers.schedules" if built_in else cls.__module__,
        "class_name": cls.__name__,
        "config": learning_rate_schedule.get_config(),
        "registered_name": None if built_in else cls.__name__,
    }


def deserialize(config, custom_objects=None):
    """A schedule from `serialize`'s dict (or Keras 2's {"class_name", "config"})."""
    if isinstance(config, LearningRateSchedule):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret learning rate schedule: {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BUILT_IN.get(name)
    if cls is None:
        raise ValueError(
            f"Could not interpret learning rate schedule: unknown class '{name}'. Known: "
            f"{', '.join(sorted(_BUILT_IN))}; pass others in `custom_objects`.")
    return cls.from_config(dict(config.get("config", {})))
