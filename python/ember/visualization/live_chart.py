"""`LiveChart`: watch loss and metrics grow while `fit` runs.

    chart = ember.callbacks.LiveChart()          # prints http://127.0.0.1:<port>/
    model.fit(x, y, validation_split=0.2, epochs=50, callbacks=[chart])
    chart.save_png("training.png"); chart.save_html("training.html")

Outside Jupyter the chart is a page served on 127.0.0.1 by a standard-library HTTP
server in a daemon thread; the page polls the server for new points and draws
them with Plotly's JavaScript, served from the installed `plotly` package (nothing
is fetched from the internet). In a Jupyter kernel there is no server: the cell's
output is one matplotlib figure replaced in place as training goes on. The server
keeps serving the final chart after `fit` returns, until `close()` (or the end of
the process).
"""

import http.server
import os
import threading
import time

import numpy as np

from ember.callbacks import Callback
from ember.visualization import _page, chart, check_update_freq

__all__ = ["LiveChart"]


def _in_jupyter_kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class LiveChart(Callback):
    """A chart of loss and every metric, training and validation, updated as `fit` runs.

    Args:
        port: the port to serve the page on, on 127.0.0.1; 0 picks a free one.
        host: the address to bind; keep the default unless you know the network.
        open_browser: open the page in the default browser when training starts.
        update_freq: `"epoch"` draws a point per finished epoch; an integer N also draws
            the running training values every N batches, for long epochs (fit then
            returns to Python after each batch).
        mode: `"auto"` (inline in a Jupyter kernel, served otherwise), `"browser"`,
            `"jupyter"` or `"none"` (only record; save or plot at the end).
        metrics: names of the panels to draw (`["loss", "accuracy"]`); all by default.
        png, html: paths to save the final chart to when training ends.
        figsize, dpi: the size of the matplotlib figure (inches, dots per inch) used in
            Jupyter and for the PNG; by default 5 x 3.2 inches per panel, two across.
        title: the chart's title.
        verbose: print the page's address when the server starts.
    """

    _rank_zero_only = True  # under ember.distribution: rank 0 writes (and draws)

    def __init__(self, port=0, host="127.0.0.1", open_browser=False, update_freq="epoch",
                 mode="auto", metrics=None, png=None, html=None, figsize=None, dpi=100,
                 title="ember training", verbose=True):
        super().__init__()
        if mode not in ("auto", "browser", "jupyter", "none"):
            raise ValueError(f'`mode` must be "auto", "browser", "jupyter" or "none", '
                             f"got {mode!r}")
        update_freq = check_update_freq(update_freq)
        if not isinstance(port, (int, np.integer)) or not 0 <= port <= 65535:
            raise ValueError(f"`port` must be an integer in [0, 65535], got {port!r}")
        if mode == "auto":
            mode = "jupyter" if _in_jupyter_kernel() else "browser"
        self.mode = mode
        self.port, self.host = int(port), host
        self.open_browser = open_browser
        self.update_freq = update_freq
        self.metrics = list(metrics) if metrics is not None else None
        self.png, self.html = png, html
        self.figsize, self.dpi = figsize, dpi
        self.title = title
        self.verbose = verbose
        # Fail now, not after an hour of training, when a drawing library is missing.
        if mode == "browser" or html is not None:
            self._plotly_js = _page.plotly_js_path()
        if mode == "jupyter" or png is not None:
            chart._matplotlib_figure_class()
        self._lock = threading.Lock()
        self._epochs = {}      # log name -> per-epoch values (History's layout)
        self._batches = {}     # log name -> [(fractional epoch, value)]
        self._epoch = 0
        self._status = "waiting for training to start"
        self._version = 0
        self._server = None
        self._thread = None
        self._display = None
        self._figure = None
        self._last_draw = 0.0

    # -- what is drawn ------------------------------------------------------------
    def data(self):
        """The chart as JSON-ready data: panels, a status line and a version counter."""
        with self._lock:
            panels = chart.panels(self._epochs, self._batches, self.metrics)
            return {"panels": panels, "status": self._status, "version": self._version}

    def _changed(self, status):
        with self._lock:
            self._status = status
            self._version += 1

    # -- the page's server -------------------------------------------------------------
    @property
    def url(self):
        """The page's address, once the server runs (None before)."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def serve(self):
        """Starts the page's server (fit starts it by itself) and returns its address."""
        if self._server is not None:
            return self.url
        chart_ = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path in ("/", "/index.html"):
                    body = _page.render_page(chart_.data(), chart_.title, live=True).encode()
                    kind = "text/html; charset=utf-8"
                elif path == "/data.json":
                    body = _page.to_json(chart_.data()).encode()
                    kind = "application/json"
                elif path == "/plotly.min.js":
                    with open(chart_._plotly_js, "rb") as f:
                        body = f.read()
                    kind = "application/javascript"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # the training output stays clean
                pass

        if not hasattr(self, "_plotly_js"):
            self._plotly_js = _page.plotly_js_path()
        try:
            self._server = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as e:
            raise OSError(f"LiveChart cannot serve on {self.host}:{self.port}: {e}. Pass "
                          "another `port` (0 picks a free one).") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="ember-live-chart", daemon=True)
        self._thread.start()
        if self.verbose:
            print(f"LiveChart: training chart at {self.url}", flush=True)
        if self.open_browser:
            import webbrowser
            webbrowser.open(self.url)
        return self.url

    def close(self):
        """Stops the page's server (the saved files and `data()` stay)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server, self._thread = None, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- Jupyter -----------------------------------------------------------------
    def _figure_for(self, count):
        if self._figure is None or len(self._figure.axes) != count:
            self._figure = chart.new_figure(count, self.figsize, self.dpi)
        return self._figure

    def figure(self):
        """The chart as a matplotlib Figure."""
        panels = self.data()["panels"]
        return chart.draw(self._figure_for(len(panels)), panels, self.title)

    def _redraw_inline(self, force):
        if self.mode != "jupyter" or (not force and time.monotonic() - self._last_draw < 0.5):
            return
        import io

        from IPython.display import Image, display
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format="png")
        image = Image(data=buffer.getvalue(), format="png")
        if self._display is None:
            self._display = display(image, display_id=True)
        else:
            self._display.update(image)
        self._last_draw = time.monotonic()

    # -- saving -----------------------------------------------------------------
    def save_png(self, path):
        """Writes the chart as a PNG of `figsize * dpi` pixels."""
        chart.save_png(self.figure(), os.fspath(path))

    def save_html(self, path):
        """Writes the chart as one self-contained HTML file (Plotly's code included)."""
        from ember.saving.file_utils import atomic_path

        if not hasattr(self, "_plotly_js"):
            self._plotly_js = _page.plotly_js_path()
        with open(self._plotly_js, encoding="utf-8") as f:
            code = f.read()
        page = _page.render_page(self.data(), self.title, live=False, inline_plotly=code)
        with atomic_path(os.fspath(path)) as partial:
            with open(partial, "w", encoding="utf-8") as f:
                f.write(page)

    # -- callback hooks -----------------------------------------------------------
    def _listens_per_batch(self, mode):
        return mode == "train" and self.update_freq != "epoch"

    def on_train_begin(self, logs=None):
        with self._lock:
            self._epochs, self._batches = {}, {}
        self._epoch = 0
        self._changed("training started")
        if self.mode == "browser":
            self.serve()
        self._redraw_inline(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or (batch + 1) % self.update_freq:
            return
        steps = (self.params or {}).get("steps") or 0
        # Batches sit between the epochs' points: epoch e's batches run from e to e + 1.
        done = len(next(iter(self._epochs.values()), []))
        x = done + ((batch + 1) / steps if steps else 0.0)
        with self._lock:
            for name, value in (logs or {}).items():
                if isinstance(value, (int, float, np.floating)):
                    self._batches.setdefault(name, []).append((x, float(value)))
        self._changed(f"epoch {self._epoch + 1}, batch {batch + 1}"
                      + (f"/{steps}" if steps else ""))
        self._redraw_inline(force=False)

    def on_epoch_end(self, epoch, logs=None):
        with self._lock:
            for name, value in (logs or {}).items():
                if isinstance(value, (int, float, np.floating)):
                    self._epochs.setdefault(name, []).append(float(value))
        epochs = (self.params or {}).get("epochs")
        shown = ", ".join(f"{k}: {v:.4g}" for k, v in (logs or {}).items()
                          if isinstance(v, (int, float, np.floating)))
        self._changed(f"epoch {epoch + 1}" + (f"/{epochs}" if epochs else "") + f"  {shown}")
        self._redraw_inline(force=True)

    def on_train_end(self, logs=None):
        self._changed(self._status.replace("epoch", "finished after epoch", 1)
                      if self._status.startswith("epoch") else "finished")
        self._redraw_inline(force=True)
        if self.png is not None:
            self.save_png(self.png)
        if self.html is not None:
            self.save_html(self.html)
