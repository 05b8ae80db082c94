"""Threads: GEMMs big enough for OpenBLAS to split into jobs run on OpenMP's
team (ember hands them over through OpenBLAS's threads callback). Models trained
and run from several Python threads at once (the engine releases the GIL) give
the numbers they give one at a time."""

import threading

import ember
import numpy as np


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
