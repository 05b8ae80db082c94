"""What imdb and reuters do to their word-index sequences, as Keras does it: shuffle,
mark the start, shift the indices, drop long sequences, cap the vocabulary."""

import numpy as np


def shuffle(rng, *arrays):
    """The arrays reordered by one permutation drawn from `rng` (NumPy's legacy generator,
    so the order is Keras's for the same seed)."""
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [a[indices] for a in arrays]


def mark_and_shift(xs, start_char, index_from):
    """Each sequence as a list, its indices shifted by `index_from` and `start_char` in
    front (when not None)."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [list(x) for x in xs]


def drop_long(maxlen, xs, labels):
    """Keeps the sequences shorter than `maxlen` (strictly, as Keras does) and their labels."""
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def cap_vocabulary(xs, num_words, skip_top, oov_char):
    """Words outside `[skip_top, num_words)` become `oov_char`, or are removed when it is
    None; `num_words=None` keeps the largest index seen."""
    if not num_words:
        num_words = max(max(x) for x in xs if x) if any(xs) else 0
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]

