"""ember's Progbar must write exactly what keras.utils.Progbar writes.

Both bars are driven with the same calls under the same fake clock, and their
stdout is compared byte for byte.
"""

import contextlib
import io
import os
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "numpy")
keras = pytest.importorskip("keras")

import ember.utils.progbar as ember_progbar
from ember.utils.progbar import Progbar
from keras.src.utils import progbar as keras_progbar


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self, start=1_000_000.0):
        self.now = start

    def __call__(self):
        return self.now


def _run(cls, monkeypatch, calls, stream_factory=io.StringIO, **kwargs):
    """Drives a progress bar of class ``cls`` and returns what it printed.

    ``calls`` is a list of ``(seconds_elapsed, method, args)``; the clock is
    advanced before each call. The bar is created at clock start.
    """
    clock = Clock()
    # Both modules use the global ``time`` module; patch through each anyway
    # so neither implementation can escape the fake clock.
    monkeypatch.setattr(keras_progbar.time, "time", clock)
    monkeypatch.setattr(ember_progbar.time, "time", clock)
    stream = stream_factory()
    with contextlib.redirect_stdout(stream):
        bar = cls(**kwargs)
        for elapsed, method, args in calls:
            clock.now += elapsed
            getattr(bar, method)(*args)
    return stream.getvalue()


def _assert_same(monkeypatch, calls, stream_factory=io.StringIO, **kwargs):
    expected = _run(keras.utils.Progbar, monkeypatch, calls, stream_factory, **kwargs)
    got = _run(Progbar, monkeypatch, calls, stream_factory, **kwargs)
    assert got == expected
    return got


def _epoch(steps, step_time, first_step_time=None, metrics=lambda i: []):
    calls = []
    for i in range(1, steps + 1):
        dt = first_step_time if (i == 1 and first_step_time is not None) else step_time
        calls.append((dt, "update", (i, metrics(i))))
    return calls


def _loss(i):
    return [("loss", 1.0 / i), ("accuracy", 0.5 + i / 100.0)]


# Per-step durations that exercise each time format: s/step, ms/step,
# us/step, and ETAs in seconds, m:ss and h:mm:ss.
SCENARIOS = {
    "fast_ms": {"target": 32, "calls": _epoch(32, 0.002, 0.4, _loss)},
    "very_fast_us": {"target": 500, "calls": _epoch(500, 7e-6, 0.01, _loss)},
    "slow_s": {"target": 5, "calls": _epoch(5, 2.5, 4.0, _loss)},
    "eta_minutes": {"target": 100, "calls": _epoch(3, 1.7, None, _loss)},
    "eta_hours": {"target": 1000, "calls": _epoch(4, 30.0, None, _loss)},
    "throttled": {"target": 200, "calls": _epoch(200, 0.013, None, _loss)},
    "tiny_and_negative": {
        "target": 4,
        "calls": _epoch(4, 0.1, None, lambda i: [("loss", 1e-5 * i), ("delta", -0.25 * i)]),
    },
    "numpy_and_int_values": {
        "target": 3,
        "calls": _epoch(
            3,
            0.2,
            None,
            lambda i: [("loss", np.float32(0.3) / i), ("count", i), ("vec", np.array([i, 2.0]))],
        ),
    },
    "stateful": {
        "target": 6,
        "stateful_metrics": ["lr"],
        "calls": _epoch(6, 0.3, None, lambda i: [("loss", 2.0 / i), ("lr", 0.1 / i)]),
    },
    "stateless_metrics": {
        "target": 6,
        "stateless_metrics": ["loss"],
        "calls": _epoch(6, 0.3, None, lambda i: [("loss", 2.0 / i), ("lr", 0.1 / i)]),
    },
    "unknown_target": {
        "target": None,
        "calls": _epoch(5, 0.2, None, _loss) + [(0.0, "update", (5, _loss(5), True))],
    },
    "add_and_units": {
        "target": 100,
        "unit_name": "sample",
        "width": 30,
        "calls": [(0.5, "add", (32, _loss(1))), (0.5, "add", (32, _loss(2))), (0.5, "add", (36,))],
    },
    "shrinking_line": {
        "target": 3,
        "calls": [
            # A slow first step: long ETA and s/step, then a shorter line
            # that must blank out the leftover characters.
            (100.0, "update", (1, [("a_long_metric_name", 1.0), ("b", 2.0)])),
            (0.1, "update", (2, [])),
            (0.1, "update", (3, [("b", 1.0)])),
        ],
    },
    "finalize_false": {
        "target": 4,
        "calls": _epoch(4, 0.2, None, _loss) + [(0.2, "update", (5, _loss(5), False))],
    },
    "steps_skipped": {
        "target": 40,
        "calls": [(0.3, "update", (10, _loss(1))), (0.3, "update", (25, _loss(2)))]
        + [(0.3, "update", (40, _loss(3)))],
    },
    "zero_interval": {"target": 8, "interval": 0, "calls": _epoch(8, 0.001, None, _loss)},
}


@pytest.mark.parametrize("verbose", [0, 1, 2])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_matches_keras_non_tty(monkeypatch, name, verbose):
    scenario = dict(SCENARIOS[name])
    calls = scenario.pop("calls")
    out = _assert_same(monkeypatch, calls, verbose=verbose, **scenario)
    if verbose == 0:
        assert out == ""


def test_matches_keras_on_tty(monkeypatch):
    scenario = dict(SCENARIOS["fast_ms"])
    calls = scenario.pop("calls")
    out = _assert_same(monkeypatch, calls, stream_factory=FakeTTY, verbose=1, **scenario)
    # Redrawn in place: every write returns to the start of the line, and
    # only the final one ends it.
    assert out.count("\r") > 1
    assert out.endswith("\n") and out.count("\n") == 1
    last = out.rsplit("\r", 1)[1]
    assert "32/32" in last and "ms/step" in last and " - loss: " in last


def test_verbose_2_prints_one_line(monkeypatch):
    scenario = dict(SCENARIOS["fast_ms"])
    calls = scenario.pop("calls")
    out = _assert_same(monkeypatch, calls, verbose=2, **scenario)
    # Only at the end, without bar or escapes; the last values, not averages,
    # are shown because Keras overwrites every metric on the final update.
    assert out == "32/32 - 0s - 2ms/step - loss: 0.0312 - accuracy: 0.8200\n"


def test_non_dynamic_display_matches_keras(monkeypatch):
    # Keras only falls back to one line per update when stdout is not a tty
    # and the platform is not POSIX (``posix`` is in sys.modules on every
    # Linux/macOS). Simulate that platform for both implementations.
    monkeypatch.delitem(sys.modules, "posix", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)
    for name in ["fast_ms", "unknown_target", "shrinking_line"]:
        scenario = dict(SCENARIOS[name])
        calls = scenario.pop("calls")
        out = _assert_same(monkeypatch, calls, verbose=1, **scenario)
        assert "\r" not in out and "\b" not in out
        assert out.startswith("\n")


def test_posix_pipe_redraws_in_place(monkeypatch):
    if "posix" not in sys.modules:
        pytest.skip("only POSIX platforms force the in-place display")
    scenario = dict(SCENARIOS["fast_ms"])
    calls = scenario.pop("calls")
    out = _assert_same(monkeypatch, calls, verbose=1, **scenario)
    assert out.startswith("\r") and out.count("\n") == 1


def test_unencodable_stream_falls_back_like_keras(monkeypatch):
    def ascii_stream():
        return _AsciiStream()

    scenario = dict(SCENARIOS["fast_ms"])
    calls = scenario.pop("calls")
    out = _assert_same(monkeypatch, calls, stream_factory=ascii_stream, verbose=1, **scenario)
    assert "━" not in out and "=" in out


class _AsciiStream(io.StringIO):
    """A text stream that, like a real ASCII-encoded stdout, rejects non-ASCII."""

    encoding = "ascii"

    def write(self, s):
        s.encode(self.encoding)
        return super().write(s)


def test_time_and_eta_formatting(monkeypatch):
    calls = [(4000.0, "update", (1,)), (0.06, "update", (2,)), (75.0, "update", (3,))]
    out = _assert_same(monkeypatch, calls, target=4, verbose=1)
    assert "\x1b[1m3:20:00\x1b[0m 4000s/step" in out  # h:mm:ss ETA after step 1
    assert "\x1b[1m0s\x1b[0m 60ms/step" in out  # the slow first step is discounted
    assert "\x1b[1m37s\x1b[0m 38s/step" in out


def test_both_metric_lists_rejected():
    with pytest.raises(ValueError):
        Progbar(10, stateful_metrics=["a"], stateless_metrics=["b"])
