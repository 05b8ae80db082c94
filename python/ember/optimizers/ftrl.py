from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class Ftrl(Optimizer):
    r"""FTRL-proximal ("Follow The Regularized Leader", McMahan et al. 2013), Keras's variant
    with online L2 and shrinkage-type L2 regularization.

    .. math::
        n' = n + g^2,\quad
        z \leftarrow z + g + 2 s w - \frac{n'^{-p} - n^{-p}}{\eta} w,\quad
        w \leftarrow \frac{\mathrm{clip}(z, -\lambda_1, \lambda_1) - z}
                          {n'^{-p} / \eta + 2 (\lambda_2 + \beta / (2 \eta))}

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        learning_rate_power: p above, <= 0 (0: a fixed rate). Defaults to -0.5.
        initial_accumulator_value: Starting value of n, >= 0. Defaults to 0.1.
        l1_regularization_strength: lambda_1, >= 0. Defaults to 0.
        l2_regularization_strength: lambda_2, >= 0. Defaults to 0.
        l2_shrinkage_regularization_strength: s, a magnitude penalty on w, >= 0.
            Defaults to 0.
        beta: The paper's beta. Defaults to 0.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self._attach(_core.Ftrl(
            0.0, float(learning_rate_power), float(initial_accumulator_value),
            float(l1_regularization_strength), float(l2_regularization_strength),
            float(l2_shrinkage_regularization_strength), float(beta)))

    learning_rate_power = engine_hyperparameter("learning_rate_power")
    initial_accumulator_value = engine_hyperparameter("initial_accumulator_value")
    l1_regularization_strength = engine_hyperparameter("l1_regularization_strength")
    l2_regularization_strength = engine_hyperparameter("l2_regularization_strength")
    l2_shrinkage_regularization_strength = engine_hyperparameter(
        "l2_shrinkage_regularization_strength")
    beta = engine_hyperparameter("beta")

    def get_config(self):
        return {**super().get_config(),
                "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
