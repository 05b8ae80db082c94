from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class Adadelta(Optimizer):
    r"""Adadelta: steps scaled by running averages of squared gradients and updates.

    .. math::
        A_g \leftarrow \rho A_g + (1 - \rho) g^2,\quad
        \Delta = -\frac{\sqrt{A_\Delta + \epsilon}}{\sqrt{A_g + \epsilon}} g,\quad
        A_\Delta \leftarrow \rho A_\Delta + (1 - \rho) \Delta^2,\quad w \leftarrow w + \eta \Delta

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        rho: Decay rate, in [0, 1]. Defaults to 0.95.
        epsilon: Added inside the square roots for stability. Defaults to 1e-7.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self._attach(_core.Adadelta(0.0, float(rho), float(epsilon)))

    rho = engine_hyperparameter("rho")
    epsilon = engine_hyperparameter("epsilon")

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
