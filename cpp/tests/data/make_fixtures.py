"""Writes the model files the C++ loader's tests read (cpp/tests/test_load_model.cpp) and
its fuzz loop mutates (cpp/tests/fuzz_load_model.cpp): small models saved by ember, by
Keras 3 and in Keras 2's legacy layout, each with `<name>.expected.h5` holding an input
`x` and the writer's own prediction `y` for it.

    KERAS_BACKEND=jax PYTHONPATH=python python cpp/tests/data/make_fixtures.py [folder]

The committed files were written by this script; rerun it to refresh them.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))


def functional(lib):
    inputs = lib.Input((6,), name="x")
    h = lib.layers.Dense(5, activation="relu")(inputs)
    h = lib.layers.BatchNormalization()(h)
    h = lib.layers.Dropout(0.3)(h)
    outputs = lib.layers.Dense(2)(h)
    return lib.Model(inputs, outputs)


def sequential(lib):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, activation="tanh"),
                           lib.layers.Dense(1, activation="sigmoid")])


def two_in_two_out(lib):
    a = lib.Input((3,), name="a")
    b = lib.Input((2,), name="b")
    h = lib.layers.Concatenate()([lib.layers.Dense(4, activation="relu")(a), b])
    out1 = lib.layers.Dense(2, name="first")(h)
    out2 = lib.layers.Add(name="second")([lib.layers.Dense(2)(h), out1])
    return lib.Model([a, b], [out1, out2])


MODELS = {"functional": functional, "sequential": sequential, "two_in_two_out": two_in_two_out}


def fit_a_little(model, rng):
    xs = [rng.normal(size=(32,) + tuple(i.shape[1:])).astype("float32") for i in model.inputs]
    ys = [rng.normal(size=(32,) + tuple(o.shape[1:])).astype("float32") for o in model.outputs]
    model.compile(optimizer="adam", loss="mse")
    model.fit(xs, ys, epochs=2, batch_size=8, verbose=0)
    return xs


def write_expected(path, xs, ys):
    with h5py.File(path, "w") as f:
        for i, x in enumerate(xs):
            f[f"x{i}"] = x
        for i, y in enumerate(ys):
            f[f"y{i}"] = y


def main(folder):
    import ember
    import keras
    from test_saving_interop import keras2_reference, write_keras2_h5

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    for writer in (ember, keras):
        for name, build in MODELS.items():
            model = build(writer)
            xs = fit_a_little(model, rng)
            x = [rng.normal(size=(7,) + tuple(i.shape[1:])).astype("float32")
                 for i in model.inputs]
            y = model.predict(x if len(x) > 1 else x[0], verbose=0)
            y = y if isinstance(y, list) else [y]
            base = folder / f"{writer.__name__}_{name}"
            model.save(f"{base}.keras")
            model.save(f"{base}.h5")
            model.save_weights(f"{base}.weights.h5")
            write_expected(f"{base}.expected.h5", x, [np.asarray(v) for v in y])
            del xs
    for kind in ("sequential", "functional"):
        base = folder / f"keras2_{kind}"
        weights = write_keras2_h5(f"{base}.h5", kind, rng)
        x = rng.normal(size=(7, 6)).astype("float32")
        write_expected(f"{base}.expected.h5", [x], [keras2_reference(weights, x)])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
