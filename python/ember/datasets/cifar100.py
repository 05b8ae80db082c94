"""CIFAR-100: 50,000 training and 10,000 test colour images 32x32 in 100 classes."""

import os

import numpy as np

from ember.datasets._cifar import channels_last, load_batch
from ember.datasets._origin import CIFAR
from ember.utils.file_utils import get_file


def load_data(label_mode="fine"):
    """`(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 32, 32, 3)` and int64
    labels `(n, 1)`: the 100 fine classes, or the 20 superclasses with
    `label_mode="coarse"`."""
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'`label_mode` must be one of `"fine"`, `"coarse"`. '
                         f"Received: label_mode={label_mode}.")
    path = get_file(fname="cifar-100-python-target",
                    origin=f"{CIFAR}cifar-100-python.tar.gz", extract=True,
                    file_hash="85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7")
    path = os.path.join(path, "cifar-100-python")
    x_train, y_train = load_batch(os.path.join(path, "train"), label_key=f"{label_mode}_labels")
    x_test, y_test = load_batch(os.path.join(path, "test"), label_key=f"{label_mode}_labels")
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    return (channels_last(x_train), y_train), (channels_last(x_test), y_test)
