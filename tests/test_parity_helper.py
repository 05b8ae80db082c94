"""The trained-weights comparison every Keras parity test uses (tests/parity.py)."""

import pytest
from parity import assert_weights_close


def test_accepts_rounding_and_one_isolated_outlier(rng):
    want = rng.normal(size=(8, 8)).astype("float32")
    got = want * (1 + 1e-7 * rng.standard_normal(want.shape)).astype("float32")
    assert_weights_close(got, want)
    got[3, 4] += 0.01  # one weight a step apart: a near-zero gradient under Adam
    assert_weights_close(got, want)


def test_rejects_systematic_or_large_differences(rng):
    want = rng.normal(size=(8, 8)).astype("float32")
    with pytest.raises(AssertionError):
        assert_weights_close(want + 1e-4, want)  # every weight off: a wrong update
    two = want.copy()
    two[0, 0] += 0.01
    two[5, 5] += 0.01
    with pytest.raises(AssertionError):
        assert_weights_close(two, want)  # more than one in 50 of 64
    far = want.copy()
    far[1, 2] += 0.5
    with pytest.raises(AssertionError):
        assert_weights_close(far, want)  # an outlier beyond a few steps
