"""The engine's data-parallel boundary from Python (issue 16): `_core.MpiReducer` finds the
libmpi that mpi4py loaded, sums buffers across ranks, and a model with it trains on each
rank's shard of the global batches to the weights one process reaches. Runs a small script
under `mpiexec -n 2`; skipped where mpi4py or mpiexec is missing."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ember import _core

SCRIPT = textwrap.dedent(
    """
    import sys

    import numpy as np
    from mpi4py import MPI

    import ember
    from ember import _core

    comm = MPI.COMM_WORLD
    reducer = _core.MpiReducer(comm=MPI._handleof(comm), float_type=MPI._handleof(MPI.FLOAT),
                               double_type=MPI._handleof(MPI.DOUBLE),
                               sum_op=MPI._handleof(MPI.SUM))
    assert (reducer.rank, reducer.size) == (comm.rank, comm.size), (reducer.rank, reducer.size)

    # The allreduce itself, float32 and float64, against mpi4py's own.
    rng = np.random.default_rng(100 + comm.rank)
    for dtype in (np.float32, np.float64):
        mine = rng.standard_normal(1000).astype(dtype)
        want = np.empty_like(mine)
        comm.Allreduce(mine, want, op=MPI.SUM)
        got = mine.copy()
        reducer.allreduce_sum(got)
        assert np.array_equal(got, want), (dtype, np.abs(got - want).max())

    data = np.random.default_rng(3)
    x = data.standard_normal((37, 5)).astype(np.float32)
    y = data.standard_normal((37, 2)).astype(np.float32)
    order = data.permutation(37).astype(np.int64)

    # A Dense (with a MaxNorm constraint) + BatchNormalization model: 2 ranks on shards of
    # global batches of 16 (the data set's 37 rows end in a batch of 5) against one process
    # on whole batches.
    def build():
        model = ember.Sequential([
            ember.layers.Input((5,)),
            ember.layers.Dense(8, activation="relu",
                               kernel_constraint=ember.constraints.MaxNorm(1.0)),
            ember.layers.BatchNormalization(),
            ember.layers.Dense(2),
        ])
        # Metrics of every kind of state the ranks sum: means, per-row values, confusion
        # counts at thresholds and in buckets, a confusion matrix of class ids.
        model.compile(optimizer=ember.optimizers.Adam(0.01), loss="mse", metrics=[
            "mae", "cosine_similarity", "log_cosh_error",
            ember.metrics.TruePositives(thresholds=[0.0, 0.5]),
            ember.metrics.SpecificityAtSensitivity(0.5, num_thresholds=20),
            ember.metrics.MeanIoU(3, dtype="float32"), ember.metrics.BinaryIoU(threshold=0.0)])
        model.evaluate(x[:2], y[:2], verbose=0)  # compiles the engine's model
        init = np.random.default_rng(7)
        model.set_weights([init.standard_normal(w.shape).astype(np.float32) * 0.5
                           for w in model.get_weights()])
        return model

    def train(core):
        for epoch in range(3):
            core.reset_metrics()
            core.train_batches([x], [y], order, 16, 0, 3)
        history = core.metric_results()
        core.reset_metrics()
        core.test_batches([x], [y], 16, 0, 3)
        return history, core.metric_results()

    one = build()
    want = train(one._core)
    ranks = build()
    ranks._core.set_reducer(reducer)
    got = train(ranks._core)
    for a, b in zip(ranks.get_weights(), one.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    print(f"rank {comm.rank}: ok", flush=True)
    """
)


def _mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    return shutil.which("mpiexec")


def test_mpi_reducer_without_mpi_is_a_clear_error():
    # In a process where no MPI library is loaded, the reducer says so instead of crashing.
    code = ("from ember import _core\n"
            "try:\n"
            "    _core.MpiReducer(comm=0, float_type=0, double_type=0, sum_op=0)\n"
            "except OSError as e:\n"
            "    print('OSError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=os.environ.copy())
    assert "OSError: MpiReducer: no MPI library" in out.stdout, out.stdout + out.stderr


def test_mpi_reducer_with_a_missing_library_path():
    with pytest.raises(OSError, match="cannot open the MPI library"):
        _core.MpiReducer(comm=0, float_type=0, double_type=0, sum_op=0,
                         library="/nonexistent/libmpi.so")


@pytest.mark.skipif(_mpiexec() is None, reason="mpi4py or mpiexec is not installed")
def test_two_ranks_train_as_one_process(tmp_path):
    script = tmp_path / "two_ranks.py"
    script.write_text(SCRIPT)
    env = os.environ.copy()
    # Root in CI containers, more ranks than cores allowed, one OpenMP thread per rank.
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1",
               PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe", OMP_NUM_THREADS="1")
    out = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(script)],
                         capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rank 0: ok" in out.stdout and "rank 1: ok" in out.stdout, out.stdout + out.stderr


def test_set_reducer_none_keeps_one_process():
    import ember

    model = ember.Sequential([ember.layers.Input((3,)), ember.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    model.evaluate(x, x[:, :2], verbose=0)
    model._core.set_reducer(None)
    assert model._core.reducer is None
    model._core.broadcast_weights()  # a no-op in one process
    assert model.evaluate(x, x[:, :2], verbose=0) > 0
