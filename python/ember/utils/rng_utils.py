"""set_random_seed, as in keras.utils."""

import random

import numpy as np

from ember import random as _random


def set_random_seed(seed):
    """Seeds Python's `random`, NumPy's global generator and ember's own
    (initializers, shuffling), so runs repeat exactly."""
    if not isinstance(seed, int):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed}")
    random.seed(seed)
    np.random.seed(seed)
    _random.seed(seed)
