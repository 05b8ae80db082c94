from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class Adagrad(Optimizer):
    r"""Adagrad: per-parameter rates scaled by the accumulated squared gradients.

    .. math::
        a \leftarrow a + g^2,\quad w \leftarrow w - \frac{\eta g}{\sqrt{a + \epsilon}}

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        initial_accumulator_value: Starting value of the accumulators, >= 0. Defaults to 0.1.
        epsilon: Added inside the square root for stability. Defaults to 1e-7.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
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
        self._attach(_core.Adagrad(0.0, float(initial_accumulator_value), float(epsilon)))

    initial_accumulator_value = engine_hyperparameter("initial_accumulator_value")
    epsilon = engine_hyperparameter("epsilon")

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
