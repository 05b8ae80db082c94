from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class SGD(Optimizer):
    r"""Gradient descent, with momentum and Nesterov momentum.

    .. math::
        w \leftarrow w - \eta g;\quad
        \text{momentum: } v \leftarrow \mu v - \eta g,\ w \leftarrow w + v
        \quad(\text{nesterov: } w \leftarrow w + \mu v - \eta g)

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.01.
        momentum: Float in [0, 1]; 0 is plain gradient descent. Defaults to 0.0.
        nesterov: Whether to apply Nesterov momentum. Defaults to False.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self._attach(_core.SGD(0.0, float(momentum), bool(nesterov)))

    momentum = engine_hyperparameter("momentum")
    nesterov = engine_hyperparameter("nesterov")

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
