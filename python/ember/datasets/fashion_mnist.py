"""Fashion-MNIST: 60,000 training and 10,000 test images of clothing, 28x28 uint8."""

import gzip
import os

import numpy as np

from ember.datasets._origin import TF_KERAS_DATASETS
from ember.utils.file_utils import get_file

_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def _read_idx(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_bytes)


def load_data():
    """`(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 28, 28)` and labels `(n,)`
    in 0-9, from the four IDX files Keras caches in `datasets/fashion-mnist`."""
    # Keras names this subfolder relative to the cache's own `datasets` folder.
    subdir = os.path.join("datasets", "fashion-mnist")
    paths = [get_file(name, origin=TF_KERAS_DATASETS + name, cache_subdir=subdir)
             for name in _FILES]
    y_train = _read_idx(paths[0], 8)
    x_train = _read_idx(paths[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx(paths[2], 8)
    x_test = _read_idx(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
