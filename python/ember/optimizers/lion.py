from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class Lion(Optimizer):
    r"""Lion: steps of fixed size in the sign of an interpolated momentum.

    .. math::
        w \leftarrow w - \eta\,\mathrm{sign}(\beta_1 m + (1 - \beta_1) g),\quad
        m \leftarrow \beta_2 m + (1 - \beta_2) g

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        beta_1: Interpolation factor for the step, in (0, 1]. Defaults to 0.9.
        beta_2: Decay rate of the momentum. Defaults to 0.99.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self._attach(_core.Lion(0.0, float(beta_1), float(beta_2)))

    beta_1 = engine_hyperparameter("beta_1")
    beta_2 = engine_hyperparameter("beta_2")

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
