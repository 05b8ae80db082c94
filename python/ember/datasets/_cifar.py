"""One pickled CIFAR batch: a dict of `data` (n, 3072) uint8 and a list of labels."""

from ember.datasets._pickle import RestrictedUnpickler


def load_batch(fpath, label_key="labels"):
    """Images `(n, 3, 32, 32)` (channels first, as stored) and their labels (a list)."""
    with open(fpath, "rb") as f:
        raw = RestrictedUnpickler(f, encoding="bytes").load()
    d = {k.decode("utf8"): v for k, v in raw.items()}
    data = d["data"]
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def channels_last(x):
    """ember's images are channels-last, Keras's default."""
    return x.transpose(0, 2, 3, 1)
