"""The shuffled train/test split Keras's regression sets use."""

import numpy as np


def check_test_split(test_split):
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         "and 1 (exclusive of 1).")


def shuffled_split(x, y, test_split, seed):
    """Shuffles with NumPy's legacy generator seeded `seed`, then keeps the first
    `int(n * (1 - test_split))` rows for training, as Keras does."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
