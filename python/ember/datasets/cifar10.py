"""CIFAR-10: 50,000 training and 10,000 test colour images 32x32 in 10 classes."""

import os

import numpy as np

from ember.datasets._cifar import channels_last, load_batch
from ember.datasets._origin import CIFAR
from ember.utils.file_utils import get_file


def load_data():
    """`(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 32, 32, 3)` and uint8
    labels `(n, 1)` in 0-9."""
    path = get_file(fname="cifar-10-batches-py-target", origin=f"{CIFAR}cifar-10-python.tar.gz",
                    extract=True,
                    file_hash="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
    path = os.path.join(path, "cifar-10-batches-py")
    parts = [load_batch(os.path.join(path, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([x for x, _ in parts]).astype("uint8")
    y_train = np.concatenate([np.asarray(y) for _, y in parts]).astype("uint8")
    x_test, y_test = load_batch(os.path.join(path, "test_batch"))
    x_test = x_test.astype("uint8")
    y_test = np.asarray(y_test).astype("uint8")
    return ((channels_last(x_train), y_train.reshape(-1, 1)),
            (channels_last(x_test), y_test.reshape(-1, 1)))
