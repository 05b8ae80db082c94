"""Reading a PyDataset's batches ahead on worker threads or processes, handed back in
order, while the engine trains on the batch before.

Unlike Keras's OrderedEnqueuer (a multiprocessing.Pool fed from a thread), this
uses concurrent.futures: a worker's exception comes back through its future and is
raised in the caller's thread, and a worker process that dies makes the pool raise
BrokenProcessPool instead of leaving the caller waiting. A pool lives for one
epoch's batches, so every epoch's workers see what on_epoch_begin/on_epoch_end did
to the dataset (as Keras restarts its pool per epoch).
"""

import collections
import concurrent.futures
import itertools
import multiprocessing

# In a worker process: the dataset it reads (set once by the pool's initializer, so
# the dataset is not pickled again for every batch).
_worker_dataset = None


def _init_worker(dataset):
    global _worker_dataset
    _worker_dataset = dataset


def _read_in_worker(index):
    return _worker_dataset[index]


class OrderedEnqueuer:
    """Reads `dataset[i]` for given indices on `workers` threads (or processes with
    `use_multiprocessing`), at most `max_queue_size` batches ahead."""

    def __init__(self, dataset, workers=1, use_multiprocessing=False, max_queue_size=10):
        for name, value, least in (("workers", workers, 1), ("max_queue_size", max_queue_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"PyDataset `{name}` must be a positive integer, got {value!r}.")
        self.dataset = dataset
        self.workers = workers
        self.use_multiprocessing = bool(use_multiprocessing)
        self.max_queue_size = max_queue_size

    def _pool(self):
        if self.use_multiprocessing:
            return concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(),
                initializer=_init_worker, initargs=(self.dataset,))
        return concurrent.futures.ThreadPoolExecutor(self.workers,
                                                     thread_name_prefix="ember_pydataset")

    def batches(self, indices):
        """Yields dataset[i] for every i of `indices`, in that order. Closing the
        generator (or an error) cancels what was read ahead and joins the workers."""
        pool = self._pool()
        read = _read_in_worker if self.use_multiprocessing else self.dataset.__getitem__
        indices = iter(indices)
        pending = collections.deque(
            pool.submit(read, i) for i in itertools.islice(indices, self.max_queue_size))
        try:
            while pending:
                batch = pending.popleft().result()  # a worker's exception is raised here
                for i in itertools.islice(indices, 1):
                    pending.append(pool.submit(read, i))
                yield batch
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
