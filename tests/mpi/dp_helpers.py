"""Shared by the scripts that tests/test_distribution_mpi.py runs under mpiexec: the
job's setup, models built alike on every rank, and comparisons that name the rank."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/

import ember  # noqa: E402
from ember import distribution  # noqa: E402
from parity import assert_weights_close  # noqa: E402

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 1234


def start():
    """Joins the job; returns (rank, size, the job's mpi4py communicator)."""
    distribution.initialize()
    from mpi4py import MPI
    return MPI.COMM_WORLD.rank, MPI.COMM_WORLD.size, MPI.COMM_WORLD


def data(n, features, seed=SEED):
    """The same random data set on every rank (as a user's script loads it)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, 3))
    y = np.argmax(x @ w + 0.3 * rng.normal(size=(n, 3)), axis=1)
    return x, y


def build(make, seed=SEED):
    """The model from `make()`, its weights drawn from `seed` (same start every time)."""
    ember.utils.set_random_seed(seed)
    return make()


def data_parallel(on):
    distribution.set_distribution(distribution.DataParallel() if on else None)


def assert_same_training(rank, what, model, reference, history, reference_history,
                         evaluated=None, reference_evaluated=None):
    """Weights after training, History and evaluate of a data-parallel run equal one
    process's, to float32 rounding (gradients summed in another order)."""
    for i, (a, b) in enumerate(zip(model.get_weights(), reference.get_weights())):
        assert_weights_close(a, b, rtol=1e-4, atol=1e-5,
                             err_msg=f"rank {rank}, {what}: weight {i}")
    assert history.history.keys() == reference_history.history.keys(), (
        rank, what, history.history.keys(), reference_history.history.keys())
    for key, values in history.history.items():
        np.testing.assert_allclose(values, reference_history.history[key], rtol=1e-4,
                                   atol=1e-5, err_msg=f"rank {rank}, {what}: History {key}")
    if evaluated is not None:
        np.testing.assert_allclose(evaluated, reference_evaluated, rtol=1e-4, atol=1e-5,
                                   err_msg=f"rank {rank}, {what}: evaluate")
