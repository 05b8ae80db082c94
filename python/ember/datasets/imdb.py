"""IMDB movie reviews: 25,000 training and 25,000 test reviews as word-index sequences,
labelled positive (1) or negative (0)."""

import json
import warnings

import numpy as np

from ember.datasets import _sequences
from ember.datasets._origin import TF_KERAS_DATASETS
from ember.datasets._pickle import load_npz
from ember.utils.file_utils import get_file


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """`(x_train, y_train), (x_test, y_test)`: object arrays of lists of word indices and
    int labels, as Keras's `imdb.load_data` returns them.

    Indices are shifted by `index_from` (0 pad, `start_char` the start, `oov_char`
    a word cut by `num_words` / `skip_top`); `maxlen` drops longer reviews; both splits
    are shuffled with `seed`.
    """
    if kwargs:  # Keras accepts and ignores them; say so rather than stay silent
        warnings.warn(f"imdb.load_data ignores the arguments {sorted(kwargs)}.", stacklevel=2)
    path = get_file(fname=path, origin=f"{TF_KERAS_DATASETS}imdb.npz",
                    file_hash="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")
    f = load_npz(path)
    rng = np.random.RandomState(seed)
    x_train, labels_train = _sequences.shuffle(rng, f["x_train"], f["y_train"])
    x_test, labels_test = _sequences.shuffle(rng, f["x_test"], f["y_test"])
    x_train = _sequences.mark_and_shift(x_train, start_char, index_from)
    x_test = _sequences.mark_and_shift(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = _sequences.drop_long(maxlen, x_train, labels_train)
        x_test, labels_test = _sequences.drop_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                             "sequence was kept. Increase maxlen.")
    xs = _sequences.cap_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return ((np.array(xs[:idx], dtype="object"), labels[:idx]),
            (np.array(xs[idx:], dtype="object"), labels[idx:]))


def get_word_index(path="imdb_word_index.json"):
    """The dict mapping each word to its index (before the `index_from` shift)."""
    path = get_file(fname=path, origin=f"{TF_KERAS_DATASETS}imdb_word_index.json",
                    file_hash="bfafd718b763782e994055a2d397834f")
    with open(path) as f:
        return json.load(f)
