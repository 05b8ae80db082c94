from ember import _core
from ember.optimizers.adam import Adam


class AdamW(Adam):
    r"""Adam with decoupled weight decay: each step first shrinks every variable,
    :math:`w \leftarrow w - w \lambda \eta`, then takes Adam's step.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        weight_decay: Float, the decay rate :math:`\lambda`. Defaults to 0.004.
        beta_1, beta_2, epsilon, amsgrad: as for `Adam`.
        Common arguments: see `ember.optimizers.Optimizer`; use
        `exclude_from_weight_decay` to spare some variables.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            amsgrad=amsgrad, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)

    def _new_engine(self, beta_1, beta_2, epsilon, amsgrad):
        # The weight decay itself is set from the common arguments right after.
        return _core.AdamW(0.0, 0.0, beta_1, beta_2, epsilon, amsgrad)
