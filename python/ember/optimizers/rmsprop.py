from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class RMSprop(Optimizer):
    r"""RMSprop.

    .. math::
        v \leftarrow \rho v + (1 - \rho) g^2,\quad
        \Delta = \frac{\eta g}{\sqrt{v + \epsilon}},\quad w \leftarrow w - \Delta

    With momentum, :math:`m \leftarrow \mu m + \Delta` and :math:`w \leftarrow w - m`. Centered,
    :math:`\bar g \leftarrow \rho \bar g + (1 - \rho) g` and the denominator is
    :math:`\sqrt{v - \bar g^2 + \epsilon}`.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        rho: Discounting factor for the gradient history, in [0, 1]. Defaults to 0.9.
        momentum: Float in [0, 1]. Defaults to 0.0.
        epsilon: Added inside the square root for stability. Defaults to 1e-7.
        centered: Whether to normalize by the estimated variance. Defaults to False.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self._attach(_core.RMSprop(0.0, float(rho), float(momentum), float(epsilon),
                                   bool(centered)))

    rho = engine_hyperparameter("rho")
    momentum = engine_hyperparameter("momentum")
    epsilon = engine_hyperparameter("epsilon")
    centered = engine_hyperparameter("centered")

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
