"""ember: a compiled-kernel neural network engine with Keras 3's API.

    import ember as keras        # or: from ember.models import Sequential
"""

from ember import _openblas  # noqa: F401  (OpenBLAS must be loaded before _core)
from ember import _core  # noqa: F401
from ember import (activations, backend, callbacks, initializers, layers, losses, metrics,
                   models, optimizers, utils)
from ember.layers import Input
from ember.models import Model, Sequential

__version__ = "0.1.0"

__all__ = ["Input", "Model", "Sequential", "activations", "backend", "callbacks",
           "initializers", "layers", "losses", "metrics", "models", "optimizers", "utils"]
