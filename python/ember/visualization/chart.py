"""The training chart: one panel per loss or metric, training and validation curves.

Shared by `History.plot()`, the PNG a `LiveChart` saves and the figure it shows in
Jupyter (all matplotlib), and by the browser page (Plotly), which gets the same
panels from `panels()` as JSON.
"""

import math

__all__ = ["draw", "new_figure", "panels", "save_png"]

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"


def _matplotlib_figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("Drawing the training chart needs matplotlib: `pip install "
                          "matplotlib` (or `pip install \"ember[plot]\"`).") from None
    return Figure


def panels(epoch_logs, batch_logs=None, metrics=None):
    """The chart's panels in order, loss first: `[{"name", "train", "val", "batches"}]`.

    `epoch_logs` maps a log name (`loss`, `val_accuracy`, ...) to its per-epoch values, as
    `History.history` does; epochs are numbered from 1. `batch_logs` maps a name to
    `(fractional epoch, value)` pairs. `metrics` keeps only the named panels.
    """
    batch_logs = batch_logs or {}
    names = []
    for key in list(epoch_logs) + list(batch_logs):
        base = key[4:] if key.startswith("val_") else key
        if base not in names and (metrics is None or base in metrics):
            names.append(base)
    if metrics is not None:
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f"No logs named {unknown}; the logs have "
                             f"{sorted(set(k.removeprefix('val_') for k in epoch_logs))}.")
        names = [m for m in metrics if m in names]
    order = list(names)
    names.sort(key=lambda n: (n != "loss", not n.endswith("loss"), order.index(n)))

    def points(values):
        return [[i + 1, float(v)] for i, v in enumerate(values or [])]

    return [{"name": name,
             "train": points(epoch_logs.get(name)),
             "val": points(epoch_logs.get(f"val_{name}")),
             "batches": [[float(x), float(v)] for x, v in batch_logs.get(name, [])]}
            for name in names]


def grid(count):
    """Rows and columns for `count` panels: two across once there are two or more."""
    cols = 1 if count <= 1 else 2
    return max(1, math.ceil(count / cols)), cols


def new_figure(count, figsize=None, dpi=100):
    rows, cols = grid(count)
    Figure = _matplotlib_figure_class()
    return Figure(figsize=figsize or (5.0 * cols, 3.2 * rows), dpi=dpi)


def draw(figure, chart_panels, title=None):
    """Draws the panels into a matplotlib `figure` (cleared first) and returns it."""
    figure.clear()
    rows, cols = grid(len(chart_panels))
    for i, panel in enumerate(chart_panels):
        ax = figure.add_subplot(rows, cols, i + 1)
        if panel["batches"]:
            xs, ys = zip(*panel["batches"])
            ax.plot(xs, ys, color=TRAIN_COLOR, alpha=0.35, linewidth=1, label="train (batches)")
        for key, label, color in (("train", "train", TRAIN_COLOR),
                                  ("val", "validation", VAL_COLOR)):
            if panel[key]:
                xs, ys = zip(*panel[key])
                ax.plot(xs, ys, marker="o", markersize=3, color=color, label=label)
        ax.set_title(panel["name"])
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    if chart_panels:
        figure.tight_layout()
    return figure


def save_png(figure, path):
    """Writes the figure as a PNG through a temporary file renamed into place."""
    from ember.saving.file_utils import atomic_path

    with atomic_path(path) as partial:
        figure.savefig(partial, format="png")
