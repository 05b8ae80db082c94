"""`split_dataset`: a dataset in two, as `keras.utils.split_dataset`, without TensorFlow.

Keras returns two tf.data Datasets of samples. ember returns the kind of data it was
given, ready for `fit`: an array gives two arrays; a list, tuple or dict of arrays
gives two of the same structure; a PyDataset gives two PyDatasets of its batches (the
sizes then count batches). The sizes and the shuffle are Keras's: a float is a
fraction of the samples (rounded), an int a count, and `shuffle=True` permutes with
Python's `random.Random(seed)` as Keras does.
"""

import random

import numpy as np

from ember.utils.py_dataset import PyDataset


class _BatchSubset(PyDataset):
    """The batches of `dataset` at `indices`."""

    def __init__(self, dataset, indices):
        super().__init__(workers=dataset.workers, use_multiprocessing=dataset.use_multiprocessing,
                         max_queue_size=dataset.max_queue_size)
        self._dataset, self._indices = dataset, list(indices)

    def __len__(self):
        return len(self._indices)

    def __getitem__(self, index):
        return self._dataset[self._indices[index]]


def _check_size(size, total, side):
    if size is None:
        return
    if type(size) not in (int, float):
        raise TypeError(f"Invalid `{side}_size` Type. Expected: int or float or None, "
                        f"Received: type({side}_size)={type(size)}.")
    if (type(size) is int and (size <= 0 or size >= total)) or (
            type(size) is float and (size <= 0 or size >= 1)):
        raise ValueError(f"`{side}_size` should be either a positive integer smaller than "
                         f"{total}, or a float within the range `[0, 1]`. Received: "
                         f"{side}_size={size}")


def split_sizes(left_size, right_size, total):
    """(left, right) sample counts, with Keras's checks and rounding."""
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None")
    _check_size(left_size, total, "left")
    _check_size(right_size, total, "right")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be "
                         "less than or equal to 1.")
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the "
                         f"{total}. Received: left_size + right_size = {left + right} and "
                         f"total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and "
                             f"`right_size`={right}. Resulting {side} side dataset split will "
                             "be empty. Adjust any of the aforementioned parameters")
    return int(left), int(right)


def _arrays(dataset):
    """The leaves of an array, or a list/tuple/dict of arrays, as (leaves, rebuild)."""
    if isinstance(dataset, dict):
        keys = list(dataset)
        return [np.asarray(dataset[k]) for k in keys], lambda xs: dict(zip(keys, xs))
    if isinstance(dataset, (list, tuple)):
        kind = type(dataset)
        return [np.asarray(x) for x in dataset], lambda xs: kind(xs)
    if isinstance(dataset, np.ndarray) or hasattr(dataset, "__array__"):
        return [np.asarray(dataset)], lambda xs: xs[0]
    raise TypeError("The `dataset` argument must be an array, a list, tuple or dict of arrays, "
                    f"or a PyDataset. Received: dataset={dataset!r:.100} of type "
                    f"{type(dataset).__name__}")


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None,
                  preferred_backend=None):
    """(left, right): the first `left_size` samples and the last `right_size` ones (after a
    shuffle, if asked), each of the kind `dataset` is (see the module's docstring)."""
    if isinstance(dataset, PyDataset):
        total = dataset.num_batches
        if total is None:
            raise ValueError("split_dataset: an infinite PyDataset cannot be split.")
        leaves, rebuild = None, None
    else:
        leaves, rebuild = _arrays(dataset)
        if any(a.ndim == 0 for a in leaves):
            raise ValueError("split_dataset: every array must have a first (sample) axis.")
        total = len(leaves[0])
        if any(len(a) != total for a in leaves):
            raise ValueError("split_dataset: the arrays hold different numbers of samples: "
                             f"{[len(a) for a in leaves]}")
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    left, right = split_sizes(left_size, right_size, total)
    left_idx, right_idx = order[:left], order[total - right:]
    if leaves is None:
        return _BatchSubset(dataset, left_idx), _BatchSubset(dataset, right_idx)
    return (rebuild([a[left_idx] for a in leaves]), rebuild([a[right_idx] for a in leaves]))
