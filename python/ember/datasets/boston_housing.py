"""Boston housing prices: 506 rows of 13 features and a price in k$."""

import numpy as np

from ember.datasets._origin import TF_KERAS_DATASETS
from ember.datasets._split import check_test_split, shuffled_split
from ember.utils.file_utils import get_file


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """`(x_train, y_train), (x_test, y_test)`: float64 features `(n, 13)` and targets `(n,)`,
    shuffled with `seed`, the last `test_split` of the rows for testing."""
    check_test_split(test_split)
    path = get_file(path, origin=f"{TF_KERAS_DATASETS}boston_housing.npz",
                    file_hash="f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5")
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return shuffled_split(x, y, test_split, seed)
