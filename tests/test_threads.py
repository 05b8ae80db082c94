"""Threads: GEMMs big enough for OpenBLAS to split into jobs run on OpenMP's
team (ember hands them over through OpenBLAS's threads callback). Models trained
and run from several Python threads at once (the engine releases the GIL) give
the numbers they give one at a time, and a process forked after training (as
multiprocessing does on Linux) trains too, where GNU OpenMP's threads are gone."""

import subprocess
import sys
import threading

import ember
import numpy as np
import pytest


def wide_model(seed):
    ember.utils.set_random_seed(seed)
    model = ember.Sequential([ember.Input((96,)), ember.layers.Dense(256, activation="relu"),
                              ember.layers.Dense(256, activation="tanh"),
                              ember.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def run(model, x, y):
    model.fit(x, y, batch_size=128, epochs=2, shuffle=False, verbose=0)
    return model.predict(x, batch_size=256, verbose=0)


def test_concurrent_training_and_predict_match_serial(rng):
    x = rng.normal(size=(512, 96)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.integers(0, 4, 512)]
    serial = [run(wide_model(seed), x, y) for seed in range(4)]
    models = [wide_model(seed) for seed in range(4)]
    results = [None] * 4
    errors = []

    def work(i):
        try:
            results[i] = run(models[i], x, y)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got, want)


def test_wide_forward_matches_float64_reference(rng):
    # 256 x 300 x 500: OpenBLAS splits it across the cores.
    model = ember.Sequential([ember.Input((300,)), ember.layers.Dense(500)])
    w = rng.normal(size=(300, 500)).astype("float32")
    b = rng.normal(size=(500,)).astype("float32")
    model.layers[0].set_weights([w, b])
    x = rng.normal(size=(256, 300)).astype("float32")
    want = x.astype(np.float64) @ w.astype(np.float64) + b
    np.testing.assert_allclose(model.predict_on_batch(x), want, rtol=1e-4, atol=1e-4)


# Run in a fresh interpreter: the test process also holds JAX's threads, which a
# fork would copy in whatever state they are in.
FORK_SCRIPT = """
import multiprocessing, sys
import numpy as np
import ember

def run(seed, x, y):
    ember.utils.set_random_seed(seed)
    model = ember.Sequential([ember.Input((96,)), ember.layers.Dense(256, activation="relu"),
                              ember.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x, y, batch_size=128, epochs=2, shuffle=False, verbose=0)
    return model.predict(x, batch_size=256, verbose=0)

def child(queue, x, y):
    queue.put(run(7, x, y))

if __name__ == "__main__":
    rng = np.random.default_rng(int(sys.argv[1]))
    x = rng.normal(size=(512, 96)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.integers(0, 4, 512)]
    want = run(7, x, y)  # OpenMP's team is running in this process now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=child, args=(queue, x, y))
    p.start()
    try:
        got = queue.get(timeout=100)
    finally:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    print("ok", p.exitcode)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the fork start method")
def test_a_process_forked_after_training_trains(tmp_path, rng):
    script = tmp_path / "fork_after_training.py"
    script.write_text(FORK_SCRIPT)
    try:
        done = subprocess.run([sys.executable, str(script), str(int(rng.integers(2**31)))],
                              capture_output=True, text=True, timeout=200)
    except subprocess.TimeoutExpired:
        pytest.fail("a process forked after training hung")
    assert done.returncode == 0 and done.stdout.split() == ["ok", "0"], done.stderr[-2000:]
