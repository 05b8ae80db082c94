import re

from ember import _core
from ember.optimizers.optimizer import Optimizer, _core_variable, _optional_float


class Muon(Optimizer):
    r"""Muon (MomentUm Orthogonalized by Newton-Schulz), Keras's variant: each matrix
    (rank-2 variable) takes an orthogonalised momentum step; every other variable,
    embeddings and the layers named by `exclude_layers` take AdamW's.

    .. math::
        m \leftarrow m + g + m(\mu - 1),\quad G = g + \mu m \ \text{(nesterov, else } m),\\
        X_0 = G / (\lVert G \rVert_F + 10^{-7}),\quad
        X_{k+1} = a X_k + (b A_k + c A_k^2) X_k,\ A_k = X_k X_k^\top,\\
        w \leftarrow w - \eta X_{n} \sqrt{\max(r, c)}\, \text{rms\_rate}

    (X is formed the wide way round: a tall matrix is transposed first and back after.)
    The step runs in the engine (cpp/src/cpu/optimizer_kernels.cpp, BLAS for the
    products). Weight decay is `weight_decay` for the Muon-updated variables and
    `adam_weight_decay` for the AdamW-updated ones, both times the learning rate.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a callable. Defaults to 0.001.
        adam_beta_1, adam_beta_2, epsilon: AdamW's, for the variables it updates.
        adam_weight_decay: Their weight decay. Defaults to 0.004.
        weight_decay: The Muon-updated variables' weight decay. Defaults to 0.004.
        exclude_layers: Regular expressions; a variable whose path ("layer/weight")
            matches one takes the AdamW step.
        exclude_embeddings: Whether variables with "embedding" in their path take the
            AdamW step. Defaults to True.
        muon_a, muon_b, muon_c: The Newton-Schulz polynomial's coefficients.
        adam_lr_ratio: The AdamW step's learning rate is `learning_rate * adam_lr_ratio`.
        momentum: Muon's momentum. Defaults to 0.95.
        ns_steps: Newton-Schulz iterations. Defaults to 5.
        nesterov: Whether to use Nesterov momentum. Defaults to True.
        rms_rate: Scales the update by `sqrt(max(rows, cols)) * rms_rate` (None: not).
        Common arguments: see `ember.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999,
                 adam_weight_decay=0.004, epsilon=1e-7, weight_decay=0.004, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, exclude_layers=None,
                 exclude_embeddings=True, muon_a=3.4445, muon_b=-4.7750, muon_c=2.0315,
                 adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True, rms_rate=0.2,
                 **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.adam_beta_1 = adam_beta_1
        self.adam_beta_2 = adam_beta_2
        self.epsilon = epsilon
        self.muon_a = muon_a
        self.muon_b = muon_b
        self.muon_c = muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.exclude_embeddings = exclude_embeddings
        self.exclude_layers = exclude_layers or []
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate
        for pattern in self.exclude_layers:
            re.compile(pattern)  # re.error for a bad pattern, now
        self._attach(_core.Muon(
            0.0, float(adam_beta_1), float(adam_beta_2), _optional_float(adam_weight_decay),
            float(epsilon), _optional_float(weight_decay), [str(p) for p in self.exclude_layers],
            bool(exclude_embeddings), float(muon_a), float(muon_b), float(muon_c),
            float(adam_lr_ratio), float(momentum), int(ns_steps), bool(nesterov),
            _optional_float(rms_rate)))

    def _should_use_adamw(self, variable):
        """Keras's rule, on the variable's path."""
        if len(variable.shape) != 2:
            return True
        path = getattr(variable, "path", "")
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(keyword, path) for keyword in self.exclude_layers)

    def _prepare_variables(self, variables):
        """Tells the engine which variables take the AdamW step, by their paths."""
        self._core.set_adamw_variables(
            [_core_variable(v) for v in variables if self._should_use_adamw(v)])

    def build(self, variables):
        variables = list(variables)
        self._prepare_variables(variables)
        super().build(variables)

    def get_config(self):
        return {**super().get_config(), "adam_beta_1": self.adam_beta_1,
                "adam_beta_2": self.adam_beta_2, "epsilon": self.epsilon,
                "exclude_layers": self.exclude_layers, "muon_a": self.muon_a,
                "muon_b": self.muon_b, "muon_c": self.muon_c,
                "adam_lr_ratio": self.adam_lr_ratio, "momentum": self.momentum,
                "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings,
                "adam_weight_decay": self.adam_weight_decay, "rms_rate": self.rms_rate}
