"""ember: a compiled-kernel neural network engine with Keras 3's API.

    import ember as keras        # or: from ember.models import Sequential
"""

# Threads: OpenBLAS's GEMM jobs run on OpenMP's team with everything else (see
# cpp/src/cpu/gemm.cpp), so OpenMP's default wait policy - spin a while after a
# parallel region, then sleep - no longer starves another pool; it keeps the team
# awake between the regions of a training step (passive waiting made a wide-MLP
# step ~5% slower).
from ember import _openblas  # noqa: F401  (OpenBLAS must be loaded before _core)
from ember import _core  # noqa: F401
from ember import (
    activations, backend, callbacks, constraints, datasets, distribution, initializers, layers,
    losses, metrics, models, ops, optimizers, regularizers, saving, utils)
from ember.constraints import Constraint
from ember.initializers import Initializer
from ember.layers import Input, InputSpec, KerasTensor, Layer
from ember.losses import Loss
from ember.metrics import Metric
from ember.models import Model, Sequential
from ember.optimizers import Optimizer
from ember.regularizers import Regularizer
from ember.variables import Variable

__version__ = "0.1.0"


def version():
    """ember's version string (Keras's `keras.version()`)."""
    return __version__


__all__ = ["Input", "Model", "Sequential", "activations", "backend", "callbacks", "constraints",
           "datasets", "distribution",
           "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers",
           "regularizers", "saving", "utils"]
# Keras's top-level aliases (issue 17)
__all__ += ["Constraint", "Initializer", "InputSpec", "KerasTensor", "Layer", "Loss", "Metric",
            "Optimizer", "Regularizer", "Variable", "version"]
