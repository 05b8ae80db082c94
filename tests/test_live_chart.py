"""`ember.callbacks.LiveChart` and `History.plot()`: the chart a person watches.

The served page is opened during a fit by a real headless Chromium (Debian's
`chromium`), whose rendered DOM must hold the points of the epochs finished so
far; the saved PNG must be a non-blank image of the size asked for; in an IPython
shell the chart is one display updated in place.
"""

import base64
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request

import ember
import numpy as np
import pytest

mpl_image = pytest.importorskip("matplotlib.image", reason="the chart is drawn with "
                                "matplotlib (installed by the `test` extra)")
pytest.importorskip("plotly", reason="the page draws with plotly's JavaScript (installed by "
                    "the `test` extra)")

EPOCHS = 4


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no headless Chromium: `bash .ci/install-system-deps` installs Debian's")


def render_dom(url):
    """The page's DOM after its scripts ran, as headless Chromium sees it."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--window-size=1200,800",
             "--virtual-time-budget=4000", "--dump-dom", url],
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def panel_points(dom, metric):
    """(epochs the panel says it holds, marker points Plotly drew in it)."""
    start = dom.index(f'id="panel-{metric}"')
    end = dom.find('id="panel-', start + 1)
    panel = dom[start:end if end > 0 else len(dom)]
    epochs = int(re.search(r'data-epochs="(\d+)"', panel).group(1))
    return epochs, len(re.findall(r'class="point"', panel))


def small_problem(rng):
    x = rng.normal(size=(200, 5)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("float32")
    model = ember.Sequential([ember.Input(shape=(5,)), ember.layers.Dense(6, activation="tanh"),
                              ember.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return model, x, y


def test_the_served_page_shows_each_finished_epoch_during_fit(rng, tmp_path):
    model, x, y = small_problem(rng)
    chart = ember.callbacks.LiveChart(mode="browser", verbose=False, update_freq=2)
    seen = {}

    def look(epoch, logs):
        if epoch in (0, 2):  # the page as it stands while training goes on
            seen[epoch] = render_dom(chart.url)

    try:
        history = model.fit(x, y, epochs=EPOCHS, batch_size=32, validation_split=0.2, verbose=0,
                            callbacks=[chart, ember.callbacks.LambdaCallback(on_epoch_end=look)])
        # After fit the server still serves the final chart, and its data is History's.
        data = json.loads(urllib.request.urlopen(chart.url + "data.json", timeout=30).read())
        url = chart.url
    finally:
        chart.close()
    for epoch, dom in seen.items():
        for metric in ("loss", "accuracy"):
            # A train and a validation marker per finished epoch.
            assert panel_points(dom, metric) == (epoch + 1, 2 * (epoch + 1))
    loss = next(p for p in data["panels"] if p["name"] == "loss")
    assert loss["train"] == [[i + 1, v] for i, v in enumerate(history.history["loss"])]
    assert loss["val"] == [[i + 1, v] for i, v in enumerate(history.history["val_loss"])]
    # Per-batch points every 2 batches: 160 rows / 32 = 5 batches -> 2 per epoch.
    assert len(loss["batches"]) == 2 * EPOCHS
    assert all(0 < x <= EPOCHS for x, _ in loss["batches"])
    with pytest.raises(OSError):  # close() stopped the server
        urllib.request.urlopen(url, timeout=5)


def read_png(path):
    return mpl_image.imread(path)


def test_saved_png_is_a_nonblank_image_of_the_right_size(rng, tmp_path):
    model, x, y = small_problem(rng)
    png, page = tmp_path / "chart.png", tmp_path / "chart.html"
    chart = ember.callbacks.LiveChart(mode="none", png=png, html=page, figsize=(8, 5), dpi=50)
    model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0, callbacks=[chart])
    image = read_png(png)
    assert image.shape[:2] == (250, 400)
    rgb = image[:, :, :3]
    assert rgb.std() > 0.05  # not one flat colour
    # The training curve's colour is drawn.
    train = np.array([0x1F, 0x77, 0xB4]) / 255
    assert (np.abs(rgb - train).max(axis=2) < 0.15).sum() > 20
    # The HTML file stands alone: Plotly inlined, no script fetched from anywhere.
    text = page.read_text()
    assert "<script src=" not in text and "Plotly.react" in text and len(text) > 1_000_000
    dom = render_dom(page.as_uri())
    assert panel_points(dom, "loss") == (3, 6)


def test_in_ipython_the_chart_is_one_display_updated_in_place(rng):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    InteractiveShell.instance()
    model, x, y = small_problem(rng)
    chart = ember.callbacks.LiveChart(mode="jupyter", dpi=40)
    with capture_output() as captured:
        model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[chart])
    outputs = captured.outputs
    assert len(outputs) >= 4  # training started, each epoch, the end
    assert chart.url is None  # no server in a notebook
    # One display, then updates of it: the cell shows a single figure that changes.
    assert [o.update for o in outputs] == [False] + [True] * (len(outputs) - 1)
    assert len({o.transient["display_id"] for o in outputs}) == 1
    png = base64.b64decode(outputs[-1].data["image/png"])
    last = mpl_image.imread(io.BytesIO(png), format="png")
    # Two panels across, 5 x 3.2 inches each, at 40 dpi.
    assert last.shape[:2] == (128, 400) and last[:, :, :3].std() > 0.05


def test_history_plot_draws_every_metric_train_and_validation(rng, tmp_path):
    model, x, y = small_problem(rng)
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
    figure = history.plot(to_file=tmp_path / "history.png", figsize=(6, 3), dpi=50)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["loss", "accuracy"]
    for ax in figure.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        name = ax.get_title()
        np.testing.assert_array_equal(lines["train"].get_ydata(), history.history[name])
        np.testing.assert_array_equal(lines["validation"].get_ydata(),
                                      history.history[f"val_{name}"])
        np.testing.assert_array_equal(lines["train"].get_xdata(), [1, 2, 3])
    assert read_png(tmp_path / "history.png").shape[:2] == (150, 300)
    assert [ax.get_title() for ax in history.plot(metrics=["accuracy"]).axes] == ["accuracy"]
    with pytest.raises(ValueError, match="No logs named"):
        history.plot(metrics=["auc"])


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        ember.callbacks.LiveChart(mode="tv")
    with pytest.raises(ValueError, match="update_freq"):
        ember.callbacks.LiveChart(update_freq=0)
    with pytest.raises(ValueError, match="port"):
        ember.callbacks.LiveChart(port=70000)
    with contextlib.redirect_stdout(io.StringIO()):
        first = ember.callbacks.LiveChart(mode="browser")
        first.serve()
        try:
            taken = int(first.url.rsplit(":", 1)[1].strip("/"))
            with pytest.raises(OSError, match="cannot serve"):
                ember.callbacks.LiveChart(mode="browser", port=taken).serve()
        finally:
            first.close()
    assert os.listdir(tmp_path) == []


def test_a_nan_loss_is_a_gap_in_the_line_not_broken_json():
    from ember.visualization import _page
    chart = ember.callbacks.LiveChart(mode="none")
    chart.on_train_begin()
    chart.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    chart.on_epoch_end(1, {"loss": float("nan"), "val_loss": float("inf")})
    (panel,) = json.loads(_page.to_json(chart.data()))["panels"]
    assert panel["train"] == [[1, 0.5], [2, None]] and panel["val"] == [[1, 0.75], [2, None]]
