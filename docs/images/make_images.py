"""Regenerates the README's pictures (needs the `test` extra, Graphviz and Chromium):

    PYTHONPATH=python python docs/images/make_images.py

live_chart.png: the page LiveChart serves, screenshotted by headless Chromium while
fit runs; tensorboard.png: TensorBoard's scalars over two ember runs; plot_model.png:
plot_model of a functional model with a shared layer.
"""

import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

import ember

HERE = os.path.dirname(os.path.abspath(__file__))


def screenshot(url, path, size, wait_ms):
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--window-size={size[0]},{size[1]}", f"--virtual-time-budget={wait_ms}",
                        f"--screenshot={path}", url], check=True, capture_output=True, timeout=180)


def problem(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2000, 8)).astype("float32")
    y = ((x[:, 0] * x[:, 1] + np.sin(x[:, 2])) > 0).astype("float32")
    model = ember.Sequential([ember.Input(shape=(8,)), ember.layers.Dense(32, activation="relu"),
                              ember.layers.Dense(32, activation="relu"),
                              ember.layers.Dense(1, activation="sigmoid")])
    return model, x, y


def live_chart():
    model, x, y = problem(0)
    model.compile(ember.optimizers.Adam(3e-3), "binary_crossentropy",
                  metrics=["accuracy", ember.metrics.AUC()])
    chart = ember.callbacks.LiveChart(update_freq=5, verbose=False)

    def snap(epoch, logs):
        if epoch == 17:  # mid-fit, as a person watching would see it
            screenshot(chart.url, os.path.join(HERE, "live_chart.png"), (1100, 720), 3000)

    model.fit(x, y, epochs=25, batch_size=64, validation_split=0.2, verbose=0,
              callbacks=[chart, ember.callbacks.LambdaCallback(on_epoch_end=snap)])
    chart.close()


def tensorboard():
    logs = tempfile.mkdtemp()
    for name, lr in (("ember_adam_3e-3", 3e-3), ("ember_sgd_0.05", 0.05)):
        model, x, y = problem(1)
        optimizer = ember.optimizers.Adam(lr) if "adam" in name else ember.optimizers.SGD(lr)
        model.compile(optimizer, "binary_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=30, batch_size=64, validation_split=0.2, verbose=0,
                  callbacks=[ember.callbacks.TensorBoard(os.path.join(logs, name))])
    process = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", logs,
                                "--host", "127.0.0.1", "--port", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        while url is None:
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", process.stderr.readline())
            url = match.group(1) if match else None
        time.sleep(3)
        screenshot(url + "#scalars&tagFilter=epoch_(loss%7Caccuracy)",
                   os.path.join(HERE, "tensorboard.png"), (1200, 760), 15000)
    finally:
        process.terminate()
        process.wait()


def plot_model():
    a, b = ember.Input(shape=(16,), name="query"), ember.Input(shape=(16,), name="document")
    encoder = ember.layers.Dense(8, activation="relu", name="shared_encoder")
    merged = ember.layers.Concatenate(name="concat")([encoder(a), encoder(b)])
    score = ember.layers.Dense(1, activation="sigmoid", name="score")(merged)
    topic = ember.layers.Dense(4, activation="softmax", name="topic")(encoder(a))
    model = ember.Model([a, b], [score, topic])
    ember.utils.plot_model(model, os.path.join(HERE, "plot_model.png"), show_shapes=True,
                           show_layer_names=True, show_layer_activations=True, dpi=60)


if __name__ == "__main__":
    for name in sys.argv[1:] or ["live_chart", "tensorboard", "plot_model"]:
        globals()[name]()
