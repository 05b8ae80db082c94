"""Keras-compatible text progress bar.

The output of :class:`Progbar` is meant to be byte-for-byte identical to
``keras.utils.Progbar`` (Keras 3), including its ANSI escape sequences, its
``\\b``/``\\r`` redraw scheme and its number formatting, so that logs produced
by ember and by Keras can be compared (or diffed) directly.
"""

import math
import os
import sys
import time

import numpy as np

__all__ = ["Progbar"]

# ANSI sequences used by Keras. They are emitted unconditionally (even when
# stdout is a pipe), exactly like Keras does.
_BOLD = "\x1b[1m"
_GREEN = "\33[32m"
_WHITE = "\33[37m"
_RESET = "\x1b[0m"
# Number of non-printing characters a bold / coloured chunk adds to a line;
# they are subtracted to get the visible width used to pad redraws.
_BOLD_LEN = len(_BOLD) + len(_RESET)
_COLOR_LEN = len(_GREEN) + len(_RESET)
_BAR_CHAR = "━"


def _write(message):
    """Write ``message`` to the *current* ``sys.stdout`` and flush.

    Mirrors ``keras.src.utils.io_utils.print_msg(message, line_break=False)``
    with interactive logging enabled (its default): when the stream cannot
    encode the box-drawing bar character, Keras falls back to ``=`` and drops
    whatever else is not encodable, rather than crashing the training loop.
    """
    stream = sys.stdout
    try:
        stream.write(message)
    except UnicodeEncodeError:
        message = message.replace(_BAR_CHAR, "=")
        encoding = stream.encoding or "utf-8"
        message = message.encode(encoding, errors="ignore").decode(encoding)
        stream.write(message)
    stream.flush()


def _format_eta(eta):
    # int() truncates like the "%d" formatting Keras uses.
    if eta > 3600:
        return f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


def _format_count(current, target):
    """``" 7/32"``-style step counter, right-aligned to the target's width."""
    numdigits = int(math.log10(target)) + 1
    return f"{int(current):{numdigits}d}/{int(target)}"


def _average(entry):
    """Return the displayed value of a ``[weighted_sum, weight]`` entry."""
    total, count = entry
    # Keras reduces non-float totals (ints, numpy scalars/arrays) with
    # np.mean before dividing, which also decides the printed numeric type.
    if not isinstance(total, float):
        total = np.mean(total)
    return total / max(1, count)


class Progbar:
    """Displays a progress bar.

    Args:
        target: Total number of steps expected, ``None`` if unknown.
        width: Progress bar width on screen.
        verbose: Verbosity mode, 0 (silent), 1 (live bar), 2 (one line when
            finished).
        interval: Minimum visual progress update interval (in seconds).
        stateful_metrics: Iterable of metric names that should *not* be
            averaged over time; they are displayed as-is. Other metrics are
            averaged, weighted by the number of steps of each update.
        stateless_metrics: Iterable of metric names that *should* be averaged
            (every other metric is then displayed as-is). Mutually exclusive
            with ``stateful_metrics``. Kept for parity with Keras.
        unit_name: Display name for step counts (usually "step" or "sample").
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be provided."
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set(stateful_metrics or ())
            self.stateless_metrics = None

        # Same detection as Keras. Note that the ``posix`` module is imported
        # by ``os`` on every POSIX platform, so on Linux/macOS this is always
        # true and the bar is redrawn in place even when stdout is a pipe or a
        # file; the newline-per-update fallback only happens elsewhere.
        self._dynamic_display = (
            (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules
            or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ
        )
        self._seen_so_far = 0
        self._values = {}
        self._values_order = []
        self._start = time.time()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _is_stateless(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def update(self, current, values=None, finalize=None):
        """Updates the progress bar.

        Args:
            current: Index of current step.
            values: List of tuples ``(name, value_for_last_step)``. Stateful
                metrics are displayed as-is, others as a running average.
            finalize: Whether this is the last update for the progress bar.
                If ``None``, defaults to ``current >= self.target``.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target

        for name, value in values or []:
            if name not in self._values_order:
                self._values_order.append(name)
            if self._is_stateless(name) and not finalize:
                # Weight by the number of steps covered by this update. The
                # floor of 1 covers a repeated `current` (e.g. epoch-end call
                # after the last batch when the target was unknown).
                weight = max(current - self._seen_so_far, 1)
                if name in self._values:
                    self._values[name][0] += value * weight
                    self._values[name][1] += weight
                else:
                    self._values[name] = [value * weight, weight]
            else:
                # Stateful metrics, and -- a Keras quirk -- every metric on
                # the finalizing update, are shown as the last value given.
                self._values[name] = [value, 1]
        self._seen_so_far = current

        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._print_live(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            # Semi-verbose mode prints a single line, once the target is hit.
            self._print_summary_line(current, now, time_per_unit)

        self._last_update = now

    def add(self, n, values=None):
        """Advances the bar by ``n`` steps."""
        self.update(self._seen_so_far + n, values)

    def _print_live(self, current, now, time_per_unit, finalize):
        if self._dynamic_display:
            # Backspaces are redundant with "\r" on terminals, but Keras emits
            # both; keep them so captured logs compare equal.
            message = "\b" * self._prev_total_width + "\r"
        else:
            message = "\n"

        hidden = 0  # characters of ANSI escapes, not visible on screen
        has_target = self.target is not None and self.target > 0
        if has_target:
            bar = f"{_BOLD}{_format_count(current, self.target)}{_RESET} "
            hidden += _BOLD_LEN
            done = int(self.width * (float(current) / self.target))
            if done > 0:
                bar += f"{_GREEN}{_BAR_CHAR * done}{_RESET}"
                hidden += _COLOR_LEN
            bar += f"{_WHITE}{_BAR_CHAR * (self.width - done)}{_RESET}"
            hidden += _COLOR_LEN
        else:
            bar = f"{int(current):7d}/Unknown"

        if has_target and not finalize:
            eta = time_per_unit * (self.target - current)
            info = f" {_BOLD}{_format_eta(eta)}{_RESET}"
        else:
            info = f" {_BOLD}{now - self._start:.0f}s{_RESET}"
        hidden += _BOLD_LEN
        info += self._format_time(time_per_unit, self.unit_name)

        for name in self._values_order:
            avg = _average(self._values[name])
            info += f" - {name}:"
            info += f" {avg:.4f}" if abs(avg) > 1e-3 else f" {avg:.4e}"

        message += bar + info
        total_width = len(bar) + len(info) - hidden
        if self._prev_total_width > total_width:
            # Blank out the tail of a longer previous line.
            message += " " * (self._prev_total_width - total_width)
        if finalize:
            message += "\n"
        _write(message)
        self._prev_total_width = total_width

    def _print_summary_line(self, current, now, time_per_unit):
        info = _format_count(current, self.target)
        info += f" - {now - self._start:.0f}s"
        info += f" -{self._format_time(time_per_unit, self.unit_name)}"
        for name in self._values_order:
            avg = _average(self._values[name])
            # Unlike the live bar, Keras compares the signed value here, so
            # negative averages always print in scientific notation.
            info += f" - {name}:"
            info += f" {avg:.4f}" if avg > 1e-3 else f" {avg:.4e}"
        _write(info + "\n")

    @staticmethod
    def _format_time(time_per_unit, unit_name):
        """Formats a per-unit duration as ``" 12ms/step"`` (leading space)."""
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
        return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"

    def _estimate_step_duration(self, current, now):
        """Estimates the duration of one step.

        The first step is usually slow (graph tracing, allocation, warm-up),
        so once it is done it is excluded from the estimate. Without a step
        1 (or when step 1 is reported again) the plain average is used.
        """
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit
