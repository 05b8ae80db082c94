"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 uint8."""

import numpy as np

from ember.datasets._origin import TF_KERAS_DATASETS
from ember.utils.file_utils import get_file


def load_data(path="mnist.npz"):
    """`(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 28, 28)` and labels
    `(n,)` in 0-9. `path` is the file's name in the cache (`~/.keras/datasets`)."""
    path = get_file(fname=path, origin=f"{TF_KERAS_DATASETS}mnist.npz",
                    file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
