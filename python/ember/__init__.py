"""ember: a compiled-kernel neural network engine with Keras 3's API.

    import ember as keras        # or: from ember.models import Sequential
"""

import os

# OpenMP threads that spin after a parallel region starve OpenBLAS's threads
# (and anything else) on small machines: measured, the wide-MLP epoch ran 7x
# slower. Passive waiting must be chosen before libgomp loads with _core.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ember import _openblas  # noqa: E402,F401  (OpenBLAS must be loaded before _core)
from ember import _core  # noqa: E402,F401
from ember import (  # noqa: E402
    activations, backend, callbacks, initializers, layers, losses, metrics, models, ops,
    optimizers, regularizers, saving, utils)
from ember.layers import Input  # noqa: E402
from ember.models import Model, Sequential  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Input", "Model", "Sequential", "activations", "backend", "callbacks",
           "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers",
           "regularizers", "saving", "utils"]
