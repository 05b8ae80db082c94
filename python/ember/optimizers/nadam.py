from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class Nadam(Optimizer):
    r"""Nadam: Adam with Nesterov momentum.

    With :math:`u_t = \beta_1(1 - \tfrac{1}{2} 0.96^t)` and :math:`U_t = \prod_{s \le t} u_s`
    (the engine keeps it; `_core.scalar_state()` is `[U_t]`):

    .. math::
        \hat m = \frac{u_{t+1} m}{1 - U_t u_{t+1}} + \frac{(1 - u_t) g}{1 - U_t},\quad
        \hat v = \frac{v}{1 - \beta_2^t},\quad
        w \leftarrow w - \frac{\eta \hat m}{\sqrt{\hat v} + \epsilon}

    after Adam's moment updates of m and v.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        beta_1, beta_2: Decay rates of the first and second moment estimates.
        epsilon: Added to the denominator for stability. Defaults to 1e-7.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
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
        self._attach(_core.Nadam(0.0, float(beta_1), float(beta_2), float(epsilon)))

    beta_1 = engine_hyperparameter("beta_1")
    beta_2 = engine_hyperparameter("beta_2")
    epsilon = engine_hyperparameter("epsilon")

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
