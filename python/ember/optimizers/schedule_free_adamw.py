from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class ScheduleFreeAdamW(Optimizer):
    r"""Schedule-free AdamW (Defazio et al., 2024): no learning-rate schedule needed.

    The `momentum` slot z starts at the variable's value and takes Adam-scaled steps; x, the
    uniform average of the z's, is recovered from the variable, which holds their
    interpolation y:

    .. math::
        v \leftarrow v + (g^2 - v)(1 - \beta_2),\quad
        z \leftarrow z - \frac{\eta g}{\sqrt{v / (1 - \beta_2^t)} + \epsilon},\quad
        x \leftarrow (1 - \tfrac{1}{t}) x + \tfrac{1}{t} z,\quad
        y = (1 - \beta_1) z + \beta_1 x

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.0025.
        beta_1: The interpolation between z and x, in (0, 1]. Defaults to 0.9.
        beta_2: Decay rate of the second moment. Defaults to 0.999.
        epsilon: Added to the denominator for stability. Defaults to 1e-8.
        warmup_steps: Steps over which the rate ramps up linearly from 0. Defaults to 0.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 warmup_steps=0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        if isinstance(warmup_steps, bool) or int(warmup_steps) != warmup_steps:
            raise ValueError(f"`warmup_steps` must be a whole number, got {warmup_steps!r}")
        self._attach(_core.ScheduleFreeAdamW(0.0, float(beta_1), float(beta_2), float(epsilon),
                                             int(warmup_steps)))

    beta_1 = engine_hyperparameter("beta_1")
    beta_2 = engine_hyperparameter("beta_2")
    epsilon = engine_hyperparameter("epsilon")
    warmup_steps = engine_hyperparameter("warmup_steps")

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "warmup_steps": self.warmup_steps}
