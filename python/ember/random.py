"""The global random state: weight initialisation, shuffling and (later) dropout
draw from one NumPy generator that `ember.utils.set_random_seed` reseeds."""

import numpy as np

_generator = np.random.default_rng()


def generator():
    return _generator


def seed(value):
    global _generator
    _generator = np.random.default_rng(value)
