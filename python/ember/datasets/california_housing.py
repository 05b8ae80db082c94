"""California housing prices: 20,640 block groups, 8 features, the median house value."""

import numpy as np

from ember.datasets._origin import TF_KERAS_DATASETS
from ember.datasets._split import check_test_split, shuffled_split
from ember.utils.file_utils import get_file


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """`(x_train, y_train), (x_test, y_test)`: float32 features `(n, 8)` and targets `(n,)`;
    `version="small"` keeps the first 600 rows."""
    check_test_split(test_split)
    path = get_file(path, origin=f"{TF_KERAS_DATASETS}california_housing.npz",
                    file_hash="1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f")
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    elif version != "large":
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. "
                         f"Received: version={version}")
    return shuffled_split(x, y, test_split, seed)
