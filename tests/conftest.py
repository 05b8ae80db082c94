"""Shared test setup.

Keras 3 is the reference the parity tests compare ember with. It runs on the jax
backend, which has to be chosen before anything imports keras, so it is set here,
at import, before any test module loads.
"""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")


def shared_data_dir():
    """`<repo>/../shared/data`: the tutorials' data sets, kept beside the checkout."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def data_dir():
    """The shared data folder; the test is skipped when it is not there."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def keras():
    """Keras 3 (jax backend) as the reference; tests that need it skip without it."""
    return pytest.importorskip("keras")


@pytest.fixture
def rng(request):
    """A NumPy generator with a fresh seed per test.

    The seed is reported with a failing test; rerun it with EMBER_TEST_SEED=<seed>.
    """
    seed = int(os.environ.get("EMBER_TEST_SEED") or np.random.SeedSequence().entropy % 2**32)
    request.node.add_report_section("setup", "rng", f"EMBER_TEST_SEED={seed}")
    return np.random.default_rng(seed)


def pytest_configure(config):
    # Raised inside Keras's own Variable.__array__ under NumPy 2; not ember's concern.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    )
