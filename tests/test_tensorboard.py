"""`ember.callbacks.TensorBoard`: event files that TensorBoard itself reads back.

The files are read with TensorBoard's own EventAccumulator and served by a real
TensorBoard on 127.0.0.1; the values must be History's, under Keras's run layout
and tag names.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import ember
import numpy as np
import pytest

pytest.importorskip("tensorboardX", reason="ember's TensorBoard callback writes with "
                    "tensorboardX (installed by the `test` extra)")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="reading the files back needs tensorboard (installed by the `test` extra)")

EPOCHS = 3


def read_run(folder):
    acc = event_accumulator.EventAccumulator(
        str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One fit with validation, a per-batch log every 2 batches and weight histograms."""
    rng = np.random.default_rng(int(np.random.SeedSequence().entropy % 2**32))
    x = rng.normal(size=(160, 6)).astype("float32")
    y = (x[:, :2].sum(axis=1) > 0).astype("float32")
    model = ember.Sequential([ember.Input(shape=(6,)), ember.layers.Dense(5, activation="relu"),
                              ember.layers.Dense(1, activation="sigmoid")])
    model.compile(ember.optimizers.Adam(learning_rate=float(rng.uniform(1e-3, 1e-2))),
                  "binary_crossentropy", metrics=["accuracy"])
    log_dir = tmp_path_factory.mktemp("tb") / "run"
    callback = ember.callbacks.TensorBoard(log_dir=log_dir, histogram_freq=1, write_images=True,
                                           update_freq=2)
    history = model.fit(x, y, batch_size=32, epochs=EPOCHS, validation_split=0.25, verbose=0,
                        callbacks=[callback])
    return log_dir, history, model


def test_epoch_scalars_equal_history_in_keras_layout(run):
    log_dir, history, model = run
    assert sorted(os.listdir(log_dir)) == ["train", "validation"]
    train, val = read_run(log_dir / "train"), read_run(log_dir / "validation")
    for name in ("loss", "accuracy"):
        expected = [(epoch, np.float32(v)) for epoch, v in enumerate(history.history[name])]
        assert scalars(train, f"epoch_{name}") == expected
        expected = [(epoch, np.float32(v))
                    for epoch, v in enumerate(history.history[f"val_{name}"])]
        assert scalars(val, f"epoch_{name}") == expected
    lr = np.float32(model.optimizer.learning_rate)
    assert scalars(train, "epoch_learning_rate") == [(e, lr) for e in range(EPOCHS)]
    # Validation's evaluation against the optimizer's step count, as Keras logs it.
    steps = [s for s, _ in scalars(val, "evaluation_loss_vs_iterations")]
    assert steps == [4 * (e + 1) for e in range(EPOCHS)]  # 120 rows / 32 -> 4 steps


def test_batch_scalars_every_update_freq_batches(run):
    log_dir, history, _ = run
    train = read_run(log_dir / "train")
    steps = [s for s, _ in scalars(train, "batch_loss")]
    assert steps == list(range(2, 4 * EPOCHS + 1, 2))
    # The running mean at an epoch's last batch is the epoch's loss.
    by_step = dict(scalars(train, "batch_loss"))
    for epoch, loss in enumerate(history.history["loss"]):
        assert by_step[4 * (epoch + 1)] == pytest.approx(loss, rel=1e-6)


def test_weight_histograms_images_and_model_graph(run):
    log_dir, _, model = run
    train = read_run(log_dir / "train")
    tags = train.Tags()
    weights = [w for layer in model.layers for w in layer.weights]
    assert sorted(tags["histograms"]) == sorted(f"{w.path}/histogram" for w in weights)
    for w in weights:
        histograms = train.Histograms(f"{w.path}/histogram")
        assert [h.step for h in histograms] == list(range(EPOCHS))
        last = histograms[-1].histogram_value
        values = np.asarray(w.numpy())
        assert last.num == values.size and last.sum == pytest.approx(values.sum(), abs=1e-4)
        assert last.min == pytest.approx(values.min()) and last.max == pytest.approx(values.max())
    assert f"{model.layers[0].kernel.path}/image" in tags["images"]
    # The model's config under the tag Keras's graph plugin reads.
    (event,) = train.Tensors("keras")
    assert json.loads(event.tensor_proto.string_val[0]) == json.loads(model.to_json())


def test_a_tensorboard_server_lists_the_run_and_its_tags(run):
    log_dir, _, _ = run
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(log_dir), "--host",
         "127.0.0.1", "--port", "0", "--load_fast", "false", "--reload_interval", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url, deadline, seen = None, time.monotonic() + 90, []
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            seen.append(line)
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            url = match.group(1) if match else None
        assert url, "TensorBoard did not start:\n" + "".join(seen)

        def get(path):
            with urllib.request.urlopen(url + path, timeout=30) as response:
                return json.loads(response.read())

        tags = {}
        while time.monotonic() < deadline:  # the first load runs in the background
            tags = get("data/plugin/scalars/tags")
            if "epoch_loss" in tags.get("validation", {}):
                break
            time.sleep(0.2)
        assert sorted(get("data/runs")) == ["train", "validation"]
        assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss"} <= \
            set(tags["train"])
        assert {"epoch_loss", "epoch_accuracy"} <= set(tags["validation"])
        points = get("data/plugin/scalars/scalars?run=validation&tag=epoch_loss")
        assert [p[1] for p in points] == list(range(EPOCHS))
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def test_unsupported_options_raise_clear_errors(tmp_path):
    with pytest.raises(NotImplementedError, match="embeddings_freq"):
        ember.callbacks.TensorBoard(tmp_path, embeddings_freq=1)
    with pytest.raises(NotImplementedError, match="profile_batch"):
        ember.callbacks.TensorBoard(tmp_path, profile_batch=2)
    with pytest.raises(ValueError, match="update_freq"):
        ember.callbacks.TensorBoard(tmp_path, update_freq="sometimes")


def test_epoch_logging_keeps_whole_epochs_in_one_engine_call(tmp_path):
    callback = ember.callbacks.TensorBoard(tmp_path)
    assert not callback._listens_per_batch("train")
    assert ember.callbacks.TensorBoard(tmp_path, update_freq="batch")._listens_per_batch("train")
