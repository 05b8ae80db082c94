"""fit/evaluate/predict under `ember.distribution.DataParallel` in a job of several
processes: what Python does around the engine's data-parallel steps.

The engine shards each global batch and sums the gradients across ranks inside its
training step (through the reducer set here on the engine's model), and its
`metric_results()` sums the metrics' states across ranks. Python:
- checks, once per call, that every rank runs the same model on the same data plan
  (a mismatch would otherwise deadlock or silently diverge);
- starts fit from rank 0's weights, optimizer state and random state, so every rank
  shuffles alike;
- makes every rank come back to Python at the same batches (a collective per
  metric_results() call must be matched on every rank);
- gathers streamed batches (each rank reads its own part) into the global batch, and
  gathers predictions so every rank returns the whole.
"""

import numpy as np

from ember.distribution import distribution_lib
from ember.utils.py_dataset import PyDataset


class ShardedPyDataset(PyDataset):
    """Rank r's view of a PyDataset in a job of N ranks: its batch j is the dataset's
    batch j*N + r - one global step reads N of the dataset's batches, one per rank.
    Where the dataset's length is not a multiple of N, the last step has no batch for
    some ranks (None: their part of that step is empty)."""

    def __init__(self, dataset, rank, size):
        super().__init__(workers=dataset.workers, use_multiprocessing=dataset.use_multiprocessing,
                         max_queue_size=dataset.max_queue_size)
        self.dataset, self.rank, self.size = dataset, rank, size
        self._count = dataset.num_batches

    @property
    def num_batches(self):
        count = self._count
        if count is None or isinstance(count, bool) or not isinstance(count, (int, np.integer)):
            return count  # None (infinite), or a bad value DataStream reports
        return -(-int(count) // self.size)

    def __getitem__(self, index):
        i = index * self.size + self.rank
        if self._count is not None and i >= self._count:
            return None
        return self.dataset[i]

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def _differences(gathered):
    """The entries of per-rank dicts that differ: 'name: rank 0 has a, rank 1 has b'."""
    lines = []
    for key in gathered[0]:
        values = [g.get(key) for g in gathered]
        if any(v != values[0] for v in values[1:]):
            shown = ", ".join(f"rank {r} has {v!r}" for r, v in enumerate(values))
            lines.append(f"{key}: {shown}"[:600])
    return lines


def _concat(parts):
    """Per-rank lists of arrays (None: no rows on that rank) -> one list of arrays."""
    present = [p for p in parts if p is not None]
    return [np.concatenate([p[i] for p in present]) for i in range(len(present[0]))]


class DataParallelSteps:
    """The data-parallel parts of the loops (mixed into Trainer)."""

    def _parallel(self):
        """The MPI world when DataParallel is on (else None), with the engine's model
        set to sum across it (or set back to one process)."""
        world = distribution_lib.data_parallel_world()
        core = self._core
        if core is not None:
            reducer = None if world is None else world.reducer()
            if self.__dict__.get("_reducer_of") != (id(core), id(reducer)):
                if reducer is not None or hasattr(core, "set_reducer"):
                    core.set_reducer(reducer)
                self.__dict__["_reducer_of"] = (id(core), id(reducer))
        return world

    def _signature(self):
        """What must be the same on every rank for the engine's collectives to match."""
        return {
            "model": [(type(layer).__name__, layer.name) for layer in self.layers],
            "weights": [tuple(w.shape) for w in self.weights],
            "optimizer": type(self.optimizer).__name__ if self.optimizer is not None else None,
            "logs": self._log_names() if self.compiled else None,
        }

    def _agree(self, world, what, plan):
        """Checks that every rank has the same model and plan (batch size, samples,
        steps, ...), raising the same ValueError on every rank otherwise; returns the
        gathered plans."""
        mine = {**self._signature(), **plan}
        gathered = world.allgather(mine)
        differences = _differences(gathered)
        if differences:
            raise ValueError(
                f"ember.distribution.DataParallel: the {world.size} processes must call "
                f"{what} with the same model and data layout, but they differ in\n  "
                + "\n  ".join(differences))
        return gathered

    def _start_from_rank_zero(self, world):
        """Every rank continues from rank 0's weights, optimizer state and random state."""
        zero = world.rank == 0
        weights = world.bcast(self.get_weights() if zero else None)
        state = world.bcast(self._get_optimizer_state() if zero else None)
        if not zero:
            self.set_weights(weights)
            if state is not None:
                self._set_optimizer_state(state)
        distribution_lib.sync_random_state(world)

    def _agree_on_hooks(self, world, per_batch, chunked):
        """The batches at which fit returns to Python must be the same on every rank (each
        return reads the logs: a collective): per batch when any rank listens per batch,
        in chunks when every listener is only a progress bar (rank 0's)."""
        flags = world.allgather((bool(per_batch), bool(chunked)))
        return any(f[0] for f in flags), all(f[1] for f in flags)

    def _any_rank(self, flag):
        """`flag` OR-ed over the ranks under DataParallel (a stop decided on one rank
        stops all); as it is in one process."""
        world = distribution_lib.data_parallel_world()
        return bool(flag) if world is None else world.any(flag)

    # -- predict ------------------------------------------------------------------
    def _predict_shard(self, world, xs, batch_size):
        """predict on arrays: rank r predicts rows [n*r//N, n*(r+1)//N); every rank
        returns the whole, gathered in rank order."""
        n = xs[0].shape[0]
        self._agree(world, "predict", {"samples": n, "batch_size": batch_size})
        begin, end = n * world.rank // world.size, n * (world.rank + 1) // world.size
        outs = None
        if end > begin:
            outs = list(self._core.predict([a[begin:end] for a in xs], batch_size))
        parts = world.allgather(outs)
        return _concat(parts)

    def _gather_predictions(self, world, chunks, kind):
        """Streamed predict: each rank predicted its part of each step; the whole is the
        steps in order, each its ranks' parts in rank order."""
        every = world.allgather(chunks)
        counts = [len(c) for c in every]
        if len(set(counts)) > 1:
            raise ValueError(f"ember.distribution.DataParallel: every rank's {kind} must give "
                             f"the same number of batches to predict; the ranks gave {counts}.")
        steps = [_concat([rank_chunks[s] for rank_chunks in every]) for s in range(counts[0])
                 if any(rank_chunks[s] is not None for rank_chunks in every)]
        return [np.concatenate(parts) for parts in zip(*steps)]

    # -- streamed batches ----------------------------------------------------------
    def _shard_dataset(self, world, data):
        """A PyDataset is read by index across the ranks (unless auto_shard_dataset=False
        says each rank's dataset is already its own part)."""
        if world is not None and isinstance(data, PyDataset) \
                and not isinstance(data, ShardedPyDataset) \
                and distribution_lib.distribution().auto_shard_dataset:
            return ShardedPyDataset(data, world.rank, world.size)
        return data

    def _gathered_steps(self, world, batches, kind, class_weight=None):
        """Yields (step, xs, ys, sws): every rank's part of each step gathered into the
        global batch (the engine then shards it again as it shards array batches). All
        ranks must have a part at every step (an empty one for a PyDataset's last step)
        until all run out together."""
        step = 0
        iterator = iter(batches)
        while True:
            item = next(iterator, None)
            part = None
            if item is not None and item[1] is not None:
                part = self._stream_batch(item[1], item[0], class_weight=class_weight)
            gathered = world.allgather((item is not None, part))
            have = [g[0] for g in gathered]
            if not any(have):
                return
            if not all(have):
                ended = [r for r, h in enumerate(have) if not h]
                raise ValueError(
                    f"ember.distribution.DataParallel: at step {step} the {kind} on rank(s) "
                    f"{ended} had no more batches while the other ranks had one. Every rank's "
                    f"{kind} must yield its part of each global batch, the same number of "
                    "batches on every rank.")
            parts = [g[1] for g in gathered]
            if all(p is None for p in parts):
                raise ValueError(f"ember.distribution.DataParallel: step {step} of the {kind} "
                                 "has no rows on any rank.")
            xs = _concat([p[0] for p in parts if p is not None])
            ys = _concat([p[1] for p in parts if p is not None])
            sws = self._gathered_weights(parts)
            if part is None:  # this rank read nothing yet: build and compile from the whole
                self._stream_batch((xs if len(xs) > 1 else xs[0],
                                    ys if len(ys) > 1 else ys[0]), step)
            yield step, xs, ys, sws
            step += 1

    @staticmethod
    def _gathered_weights(parts):
        """Sample weights of the gathered batch: a rank without them weighs its rows 1."""
        present = [p for p in parts if p is not None]
        if all(p[2] is None for p in present):
            return None
        outputs = len(present[0][1])
        weights = []
        for o in range(outputs):
            columns = [None if p[2] is None else p[2][o] for p in present]
            if all(c is None for c in columns):
                weights.append(None)
                continue
            weights.append(np.concatenate([
                np.ones(p[1][o].shape[0], np.float32) if c is None else c
                for p, c in zip(present, columns)]))
        return weights
