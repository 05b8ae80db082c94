"""`ember.datasets`: Keras's small data sets, from the same origins and the same cache.

    (x_train, y_train), (x_test, y_test) = ember.datasets.mnist.load_data()

Each loader has Keras 3's `load_data` signature and returns what Keras's returns
(dtypes, shapes, splits, shuffling seeds). Files are fetched with
`ember.utils.get_file` into `$KERAS_HOME/datasets` (default `~/.keras/datasets`)
under Keras's names and checked against Keras's hashes, so Keras and ember share
one download.
"""

from ember.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

__all__ = ["boston_housing", "california_housing", "cifar10", "cifar100", "fashion_mnist",
           "imdb", "mnist", "reuters"]
