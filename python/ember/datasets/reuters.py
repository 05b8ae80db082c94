"""Reuters newswires: 11,228 word-index sequences labelled with one of 46 topics."""

import json

import numpy as np

from ember.datasets import _sequences
from ember.datasets._origin import TF_KERAS_DATASETS
from ember.datasets._pickle import load_npz
from ember.utils.file_utils import get_file

_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """`(x_train, y_train), (x_test, y_test)`: object arrays of lists of word indices and
    int topic labels; the sequences are shuffled with `seed` and the last `test_split`
    of them are the test set. The other options are `imdb.load_data`'s."""
    path = get_file(fname=path, origin=f"{TF_KERAS_DATASETS}reuters.npz",
                    file_hash="d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916")
    f = load_npz(path)
    xs, labels = _sequences.shuffle(np.random.RandomState(seed), f["x"], f["y"])
    xs = _sequences.mark_and_shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = _sequences.drop_long(maxlen, xs, labels)
    xs = _sequences.cap_vocabulary(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    return ((np.array(xs[:idx], dtype="object"), np.array(labels[:idx])),
            (np.array(xs[idx:], dtype="object"), np.array(labels[idx:])))


def get_word_index(path="reuters_word_index.json"):
    """The dict mapping each word to its index (before the `index_from` shift)."""
    path = get_file(path, origin=f"{TF_KERAS_DATASETS}reuters_word_index.json",
                    file_hash="4d44cc38712099c9e383dc6e5f11a921")
    with open(path) as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, indexed by label."""
    return _LABEL_NAMES
