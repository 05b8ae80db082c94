"""fit/evaluate/predict's data when it streams: a Python generator or other iterator,
a re-iterable object (a fresh pass each epoch), or an ember.utils.PyDataset - read one
batch at a time. (Arrays take the other path: whole epochs in one engine call.)

Epochs and steps follow Keras 3's epoch iterator: with `steps`, a pass over data of
known length continues from epoch to epoch, an epoch that reaches the end of the pass
stops there with Keras's warning, and the next epoch starts a new (reshuffled) pass.
Where ember differs, it is where Keras 3 replays the two batches it peeked at from a
generator that has run out: ember's one-shot iterator stays exhausted (the trainer
then stops training, with Keras's warning).
"""

import itertools
import warnings

import numpy as np

from ember import _data
from ember import random as _random
from ember.trainers.enqueuer import OrderedEnqueuer
from ember.utils.py_dataset import PyDataset

RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset "
           "or generator can generate at least `steps_per_epoch * epochs` batches. You may "
           "need to use the `.repeat()` function when building your dataset.")


def is_stream(data):
    """True for what streams: a PyDataset, an iterator (a generator), or an iterable
    that is not an array, a list, a tuple or a dict (those are arrays to ember)."""
    if type(data) is np.ndarray:  # the common case first: a one-row predict asks every call
        return False
    if isinstance(data, PyDataset):
        return True
    if data is None or isinstance(data, (np.ndarray, list, tuple, dict, str, bytes, range)) \
            or _data._is_pandas(data) or hasattr(data, "__array__"):
        return False
    return hasattr(data, "__next__") or hasattr(data, "__iter__")


def kind_of(data):
    """How Keras names the kind of data in its messages."""
    if isinstance(data, PyDataset):
        return "PyDataset"
    return "generator" if hasattr(data, "__next__") else "iterable"


def unpack_batch(batch, step):
    """One batch as the data yields it - x, (x,), (x, y) or (x, y, sample_weight),
    a list counting as a tuple as in Keras - to (x, y, sample_weight)."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, tuple):
        if len(batch) in (1, 2, 3):
            return batch + (None,) * (3 - len(batch))
    elif isinstance(batch, (np.ndarray, dict)) or _data._is_pandas(batch) \
            or hasattr(batch, "__array__"):
        return batch, None, None
    raise ValueError(
        f"Batch {step} of the data is not a batch: a generator or PyDataset must yield "
        "x, (x,), (x, y) or (x, y, sample_weight), with x and y arrays, lists or dicts "
        f"of arrays. Received: {str(batch)[:100]} of type {type(batch).__name__}.")


def _dataset_num_batches(dataset):
    count = dataset.num_batches
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"A PyDataset's length (`__len__` or `num_batches`) must be a "
                         f"non-negative integer or None, got {count!r}.")
    return int(count)


class DataStream:
    """Batches of streaming data, epoch by epoch (`epoch()`), `steps` at a time.

    Attributes read by the trainer: `num_batches` (None when unknown), `steps`,
    `ran_out` (the last epoch stopped short of its steps), `exhausted` (a one-shot
    iterator has ended: no more epochs can be read)."""

    def __init__(self, data, steps=None, shuffle=False, steps_name="steps_per_epoch"):
        self.data = data
        self.steps = steps
        self.is_dataset = isinstance(data, PyDataset)
        self.one_shot = not self.is_dataset and hasattr(data, "__next__")
        self._enqueuer = None
        if self.is_dataset:
            self.num_batches = _dataset_num_batches(data)
            workers, processes = data.workers, data.use_multiprocessing
            if workers > 1 or (workers > 0 and processes):
                self._enqueuer = OrderedEnqueuer(data, workers, processes, data.max_queue_size)
            if shuffle and self.num_batches is None:
                warnings.warn("`shuffle=True` was passed, but will be ignored since the data "
                              "`x` was provided as an infinite PyDataset. The PyDataset is "
                              "expected to already be shuffled.", stacklevel=5)
            self.shuffle = bool(shuffle) and self.num_batches is not None
            if self.num_batches is None and steps is None:
                raise ValueError(f"The PyDataset is infinite (its `num_batches` is None): "
                                 f"pass `{steps_name}` to say how many batches to take.")
        else:
            if shuffle:
                warnings.warn(f"`shuffle=True` was passed, but will be ignored since the data "
                              f"`x` was provided as a {kind_of(data)}. The {kind_of(data)} is "
                              "expected to yield already-shuffled data.", stacklevel=5)
            self.shuffle = False
            self.num_batches = None
            if not self.one_shot and hasattr(data, "__len__"):
                self.num_batches = int(len(data))
        if self.num_batches == 0:
            raise ValueError(f"The {kind_of(data)} has no batches (its length is 0).")
        self.ran_out = False
        self.exhausted = False
        self._pass = None  # the current pass: an iterator of batches, or of dataset indices
        self._position = 0  # batches taken from the current pass

    def _new_pass(self):
        self._position = 0
        if self.is_dataset:
            if self.num_batches is None:
                return itertools.count()
            order = _random.generator().permutation(self.num_batches) if self.shuffle \
                else range(self.num_batches)
            return iter([int(i) for i in order])
        return self.data if self.one_shot else iter(self.data)

    def restart(self):
        """The next epoch starts a new pass (evaluate reads from the start each time; a
        one-shot iterator cannot, and continues)."""
        if not self.one_shot:
            self._pass = None

    def _read(self, indices):
        if self._enqueuer is not None:
            return self._enqueuer.batches(indices)
        return (self.data[i] for i in indices)

    def epoch(self):
        """Yields (step, batch) for one epoch. Close it (contextlib.closing) when
        leaving early, so that a PyDataset's workers stop and on_epoch_end runs."""
        self.ran_out = False
        if self.is_dataset:
            self.data.on_epoch_begin()
        limit = self.steps if self.steps is not None else self.num_batches
        if self.steps is None or self._pass is None:
            self._pass = self._new_pass()
        if self.num_batches is not None:
            limit = min(limit, self.num_batches - self._position)
        if self.is_dataset:  # this epoch's indices, so workers read no further ahead
            batches = self._read(list(itertools.islice(self._pass, limit)))
        else:
            batches = self._pass if limit is None else itertools.islice(self._pass, limit)
        step, completed = 0, False
        try:
            for batch in batches:
                self._position += 1
                yield step, batch
                step += 1
            wanted = self.steps if self.steps is not None else self.num_batches
            self.ran_out = wanted is not None and step < wanted
            if self.ran_out or wanted is None or (self.num_batches is not None
                                                  and self._position >= self.num_batches):
                self._pass = None  # the pass is over: the next epoch starts a new one
                self.exhausted = self.one_shot and (self.ran_out or wanted is None)
            if self.ran_out and (self.steps is not None or not self.one_shot):
                warnings.warn(RAN_OUT, stacklevel=5)
            completed = True
        finally:
            if self.is_dataset and not completed:
                self._pass = None  # indices taken for this epoch went unread: start afresh
            if self.is_dataset:
                batches.close()  # stops the workers (the user's own iterators stay open)
                self.data.on_epoch_end()
