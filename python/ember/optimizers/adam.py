from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class Adam(Optimizer):
    r"""Adam.

    .. math::
        m \leftarrow m + (g - m)(1 - \beta_1),\quad v \leftarrow v + (g^2 - v)(1 - \beta_2),\quad
        w \leftarrow w - \frac{\eta\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}\frac{m}{\sqrt{v} + \epsilon}

    With `amsgrad`, :math:`\hat v = \max(\hat v, v)` takes v's place in the update.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        beta_1, beta_2: Decay rates of the first and second moment estimates.
        epsilon: Added to the denominator for stability. Defaults to 1e-7.
        amsgrad: Whether to apply the AMSGrad variant. Defaults to False.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self._attach(self._new_engine(float(beta_1), float(beta_2), float(epsilon),
                                      bool(amsgrad)))

    def _new_engine(self, beta_1, beta_2, epsilon, amsgrad):
        return _core.Adam(0.0, beta_1, beta_2, epsilon, amsgrad)

    beta_1 = engine_hyperparameter("beta_1")
    beta_2 = engine_hyperparameter("beta_2")
    epsilon = engine_hyperparameter("epsilon")
    amsgrad = engine_hyperparameter("amsgrad")

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
