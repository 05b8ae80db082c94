"""Keras's helpers for the `x`, `(x, y)`, `(x, y, sample_weight)` structure a batch has."""


def unpack_x_y_sample_weight(data):
    """(x, y, sample_weight) from x, (x,), (x, y) or (x, y, sample_weight), a list counting
    as a tuple; the missing ones are None."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) in (1, 2, 3):
        return data + (None,) * (3 - len(data))
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found: {data}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The reverse: x alone (a tuple or list x as `(x,)`), (x, y) or (x, y, sample_weight)."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return x, y
    return x, y, sample_weight
