"""`timeseries_dataset_from_array`: sliding windows over a series, as a PyDataset.

Keras builds a tf.data (or grain) pipeline; ember returns a PyDataset that fit, evaluate
and predict stream batch by batch, with Keras's windows: window i holds
data[start_index + p_i + j * sampling_rate] for j < sequence_length, where p_i runs
over range(0, num_seqs, sequence_stride), and its target is targets[start_index + p_i].
"""

import numpy as np

from ember.utils.py_dataset import PyDataset


class TimeseriesDataset(PyDataset):
    """The batches of windows `timeseries_dataset_from_array` describes; each batch is
    `windows` or `(windows, targets)`, a window of shape (sequence_length,) + data.shape[1:]."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size):
        super().__init__()
        self._data, self._targets = data, targets
        self._starts = starts
        self._offsets = np.arange(sequence_length) * sampling_rate
        self._batch_size = len(starts) if batch_size is None else batch_size

    def __len__(self):
        return -(-len(self._starts) // self._batch_size) if len(self._starts) else 0

    def __getitem__(self, index):
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        starts = self._starts[index * self._batch_size:(index + 1) * self._batch_size]
        windows = self._data[starts[:, None] + self._offsets]
        if self._targets is None:
            return windows
        return windows, self._targets[starts]


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value!r}")
    return int(value)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """Windows of `sequence_length` steps (every `sampling_rate`-th step) starting every
    `sequence_stride` steps in data[start_index:end_index], in batches of `batch_size`
    (None: one batch of every window); with `targets`, batches are (windows, targets).
    `shuffle` shuffles the windows once, with NumPy's RandomState(seed)."""
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError("`data` must be an array of at least one dimension (time first).")
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: "
                             f"start_index={start_index}")
        if start_index >= n:
            raise ValueError("`start_index` must be lower than the length of the data. "
                             f"Received: start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError("`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index} ")
        if end_index >= n:
            raise ValueError("`end_index` must be lower than the length of the data. "
                             f"Received: end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    sequence_length = _positive_int(sequence_length, "sequence_length")
    sampling_rate = _positive_int(sampling_rate, "sampling_rate")
    sequence_stride = _positive_int(sequence_stride, "sequence_stride")
    if sampling_rate >= n:
        raise ValueError("`sampling_rate` must be lower than the length of the data. Received: "
                         f"sampling_rate={sampling_rate}, for data of length {n}")
    if sequence_stride >= n:
        raise ValueError("`sequence_stride` must be lower than the length of the data. "
                         f"Received: sequence_stride={sequence_stride}, for data of length {n}")
    if batch_size is not None:
        batch_size = _positive_int(batch_size, "batch_size")
    start_index = start_index or 0
    end_index = end_index or n
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    return TimeseriesDataset(data[start_index:end_index],
                             None if targets is None else targets[start_index:],
                             starts, sequence_length, sampling_rate, batch_size)
