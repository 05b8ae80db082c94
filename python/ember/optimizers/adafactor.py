from ember import _core
from ember.optimizers.optimizer import Optimizer, engine_hyperparameter


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern, 2018): Adam-like steps with a second moment that, for
    variables of rank >= 2, is kept factored over the last two dimensions (row and column
    means), so it costs memory per row and column rather than per element.

    With :math:`t` the step, :math:`\rho_t = \min(\eta, 1/\sqrt{t})`,
    :math:`\hat\beta_t = 1 - t^{\text{beta\_2\_decay}}` and :math:`G = g^2 + \epsilon_1`:

    .. math::
        r \leftarrow \hat\beta_t r + (1 - \hat\beta_t)\,\mathrm{mean}_{-1}(G),\quad
        c \leftarrow \hat\beta_t c + (1 - \hat\beta_t)\,\mathrm{mean}_{-2}(G),\quad
        v = \frac{r}{\mathrm{mean}(r)} \otimes c

    (below rank 2, :math:`v \leftarrow \hat\beta_t v + (1 - \hat\beta_t) G`), then
    :math:`u = g / \sqrt{v}`, :math:`u \leftarrow u / \max(1, \mathrm{rms}(u) / d)` and
    :math:`w \leftarrow w - \max(\epsilon_2, \mathrm{rms}(w))\,\rho_t\,u`.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        beta_2_decay: The decay exponent of the second moment's rate. Defaults to -0.8.
        epsilon_1: Added to g^2. Defaults to 1e-30.
        epsilon_2: The smallest rms(w) the step scales by. Defaults to 1e-3.
        clip_threshold: d above, the rms a step is clipped to. Defaults to 1.0.
        relative_step: With a float learning rate, cap it at 1 / sqrt(t). Defaults to True.
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30,
                 epsilon_2=1e-3, clip_threshold=1.0, relative_step=True, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self._attach(_core.Adafactor(0.0, float(beta_2_decay), float(epsilon_1),
                                     float(epsilon_2), float(clip_threshold),
                                     bool(relative_step)))

    beta_2_decay = engine_hyperparameter("beta_2_decay")
    epsilon_1 = engine_hyperparameter("epsilon_1")
    epsilon_2 = engine_hyperparameter("epsilon_2")
    clip_threshold = engine_hyperparameter("clip_threshold")
    relative_step = engine_hyperparameter("relative_step")

    # Keras creates r, c and velocity per variable in turn.
    def _keras_slot_groups(self, slot_names):
        return [tuple(slot_names)]

    def _keras_slot_shape(self, slot, shape):
        shape = tuple(shape)
        if slot == "velocity":
            return shape
        if len(shape) < 2:
            return ()  # Keras's placeholder scalars
        return shape[:-1] if slot == "r" else shape[:-2] + shape[-1:]

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay,
                "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold, "relative_step": self.relative_step}
