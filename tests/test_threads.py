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


def run_script(tmp_path, text, rng, timeout, hang):
    """Runs `text` as a script in a fresh interpreter (its argument: a seed from rng); a run
    past `timeout` seconds fails the test with `hang`."""
    script = tmp_path / "script.py"
    script.write_text(text)
    try:
        return subprocess.run([sys.executable, str(script), str(int(rng.integers(2**31)))],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(hang)


@pytest.mark.skipif(sys.platform != "linux", reason="the fork start method")
def test_a_process_forked_after_training_trains(tmp_path, rng):
    done = run_script(tmp_path, FORK_SCRIPT, rng, timeout=200,
                      hang="a process forked after training hung")
    assert done.returncode == 0 and done.stdout.split() == ["ok", "0"], done.stderr[-2000:]


# -- one model, several threads --------------------------------------------------------
# Each engine call takes the model's lock (released GIL while waiting); fit, evaluate
# and the other calls that span several engine calls hold the model's Python lock.


def bn_model(seed, width=8):
    ember.utils.set_random_seed(seed)
    model = ember.Sequential([ember.Input((width,)), ember.layers.Dense(64, activation="relu"),
                              ember.layers.BatchNormalization(), ember.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def run_threads(target, count, timeout=120):
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors


def test_concurrent_predicts_on_one_model_match_serial(rng):
    # 2,000 rows: above the size where predict releases the GIL (1,024), where every
    # call used to share the model's one executor with no lock.
    model = bn_model(int(rng.integers(2**31)))
    xs = [rng.normal(size=(2000, 8)).astype("float32") for _ in range(4)]
    want = [model.predict(x, verbose=0) for x in xs]
    got = [[] for _ in xs]

    def work(i):
        for _ in range(15):
            got[i].append(model.predict(xs[i], verbose=0))

    run_threads(work, 4)
    for outs, w in zip(got, want):
        for out in outs:
            np.testing.assert_array_equal(out, w)


def test_concurrent_evaluates_match_serial(rng):
    model = bn_model(int(rng.integers(2**31)))
    data = [(rng.normal(size=(1500, 8)).astype("float32"),
             rng.normal(size=(1500, 1)).astype("float32")) for _ in range(3)]
    want = [model.evaluate(x, y, verbose=0, batch_size=100) for x, y in data]
    got = [[] for _ in data]

    def work(i):
        for _ in range(5):
            got[i].append(model.evaluate(*data[i], verbose=0, batch_size=100))

    run_threads(work, 3)
    for outs, w in zip(got, want):
        assert all(out == w for out in outs)


def test_two_threads_fitting_one_model_take_turns(rng):
    x = rng.normal(size=(600, 8)).astype("float32")
    y = rng.normal(size=(600, 1)).astype("float32")
    seed = int(rng.integers(2**31))
    serial = bn_model(seed)
    for _ in range(2):
        serial.fit(x, y, epochs=3, batch_size=50, shuffle=False, verbose=0)
    model = bn_model(seed)
    run_threads(lambda i: model.fit(x, y, epochs=3, batch_size=50, shuffle=False, verbose=0), 2)
    for got, want in zip(model.get_weights(), serial.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert int(model.optimizer.iterations) == 2 * 3 * 12


def test_a_callback_inside_fit_predicts_evaluates_and_saves(tmp_path, rng):
    # The same thread re-enters the model's locks: no deadlock.
    x = rng.normal(size=(300, 8)).astype("float32")
    y = rng.normal(size=(300, 1)).astype("float32")
    model = bn_model(int(rng.integers(2**31)))
    seen = []

    class Probe(ember.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(self.model.predict(x[:3000], verbose=0).shape)

        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.evaluate(x, y, verbose=0))
            self.model.save_weights(tmp_path / "probe.weights.h5")

    run_threads(lambda i: model.fit(x, y, epochs=2, batch_size=100, verbose=0,
                                    callbacks=[Probe()]), 1, timeout=60)
    assert seen.count((300, 1)) == 6 and len(seen) == 8


# The reproducer, in a fresh interpreter: it used to corrupt training silently
# and, in most runs, kill the process (SIGSEGV, munmap_chunk(): invalid pointer).
FIT_WHILE_PREDICTING = """
import sys, threading, numpy as np, ember
X = np.random.default_rng(int(sys.argv[1])).normal(size=(8000, 8)).astype("float32")
Y = X[:, :1].copy()

def model():
    ember.utils.set_random_seed(3)
    m = ember.Sequential([ember.Input((8,)), ember.layers.Dense(256, activation="relu"),
                          ember.layers.BatchNormalization(), ember.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    return m

serial = model()
want = serial.fit(X, Y, epochs=5, batch_size=500, verbose=0).history["loss"]
m = model()
done = threading.Event()
calls = [0]
def p():
    i = 0
    while not done.is_set():
        out = m.predict(X[:(1, 8000, 2, 6000)[i % 4]], verbose=0)
        assert np.isfinite(out).all()
        i += 1
    calls[0] = i
t = threading.Thread(target=p); t.start()
got = m.fit(X, Y, epochs=5, batch_size=500, verbose=0).history["loss"]
done.set(); t.join()
assert got == want, (got, want)
for a, b in zip(m.get_weights(), serial.get_weights()):
    np.testing.assert_array_equal(a, b)
print("ok", calls[0] > 0)
"""


def test_fit_while_another_thread_predicts_trains_as_alone(tmp_path, rng):
    done = run_script(tmp_path, FIT_WHILE_PREDICTING, rng, timeout=120,
                      hang="fit with a concurrent predict hung")
    assert done.returncode == 0 and done.stdout.split() == ["ok", "True"], \
        (done.returncode, done.stderr[-3000:])
