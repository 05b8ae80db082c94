from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class Lamb(Optimizer):
    r"""Lamb: Adam's step, scaled per variable by the trust ratio ||w|| / ||step||.

    .. math::
        m \leftarrow m + (g - m)(1 - \beta_1),\quad v \leftarrow v + (g^2 - v)(1 - \beta_2),\quad
        u = \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon},\quad
        w \leftarrow w - \frac{\lVert w \rVert}{\lVert u \rVert} \eta u

    The ratio is 1 when either norm is 0.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        beta_1: Decay rate of the first moment. Defaults to 0.9.
        beta_2: Decay rate of the second moment. Defaults to 0.999.
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
        self._attach(_core.Lamb(0.0, float(beta_1), float(beta_2), float(epsilon)))

    beta_1 = engine_hyperparameter("beta_1")
    beta_2 = engine_hyperparameter("beta_2")
    epsilon = engine_hyperparameter("epsilon")

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
