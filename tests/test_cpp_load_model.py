"""C++ loads the files Python saves (issue 12): models of several layer families, written by
ember and by Keras 3 as .keras and .h5 (and Keras 2's legacy .h5), predicted by the C++
example examples/cpp_consumer/predict.cpp (ember::load_model, no Python) - within 1e-5 of
Keras's predictions and bit for bit equal to ember Python's.

The C++ program comes from the README's C++ build (build/cpp, which the test command builds
before pytest runs) or the module's (build/py); the tests skip when neither has it.
EMBER_CPP_PREDICT=<path> names another build of it.
"""

import os
import subprocess
from pathlib import Path

import ember
import numpy as np
import pytest
from test_saving_interop import keras2_reference, write_keras2_h5

ROOT = Path(__file__).resolve().parents[1]


def _predict_program():
    if os.environ.get("EMBER_CPP_PREDICT"):
        return Path(os.environ["EMBER_CPP_PREDICT"])
    for build in ("cpp", "py"):
        path = ROOT / "build" / build / "example_cpp_predict"
        if path.is_file():
            return path
    return None


PROGRAM = _predict_program()
pytestmark = pytest.mark.skipif(
    PROGRAM is None,
    reason="the C++ example_cpp_predict is not built (build/cpp or build/py, with HDF5 and libzip)")


def cpp_predict(path, xs, tmp_path):
    """Predictions of the C++ program for the model file at `path`."""
    names = []
    for i, x in enumerate(xs):
        names.append(str(tmp_path / f"x{i}.f32"))
        np.ascontiguousarray(x, dtype=np.float32).tofile(names[-1])
    prefix = str(tmp_path / "y")
    done = subprocess.run([str(PROGRAM), str(path), *names, prefix], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = []
    while Path(f"{prefix}{len(outputs)}.f32").is_file():
        outputs.append(np.fromfile(f"{prefix}{len(outputs)}.f32", dtype=np.float32))
        os.remove(f"{prefix}{len(outputs) - 1}.f32")
    return outputs


# -- the models: one builder per family, for ember and for Keras alike --------------------------
def mlp(lib):
    return lib.Sequential([lib.Input((6,)), lib.layers.Dense(8, activation="relu"),
                           lib.layers.BatchNormalization(), lib.layers.Dropout(0.3),
                           lib.layers.Dense(3, activation="softmax")])


def conv(lib):
    return lib.Sequential([lib.Input((8, 8, 2)), lib.layers.Conv2D(4, 3, activation="relu"),
                           lib.layers.MaxPooling2D(), lib.layers.Conv2D(3, 2, padding="same"),
                           lib.layers.Flatten(), lib.layers.Dense(2)])


def recurrent(lib):
    inputs = lib.Input((6, 3))
    h = lib.layers.LSTM(5, return_sequences=True)(inputs)
    h = lib.layers.GRU(4)(h)
    return lib.Model(inputs, lib.layers.Dense(2, activation="tanh")(h))


def sequence_conv(lib):
    inputs = lib.Input((7, 3))
    h = lib.layers.Conv1D(4, 3, activation="elu")(inputs)
    h = lib.layers.SimpleRNN(3, return_sequences=True)(h)
    h = lib.layers.GlobalMaxPooling1D()(h)
    return lib.Model(inputs, lib.layers.Dense(2)(h))


def embedding(lib):
    inputs = lib.Input((5,), dtype="int32")
    h = lib.layers.Embedding(20, 4)(inputs)
    h = lib.layers.GlobalAveragePooling1D()(h)
    return lib.Model(inputs, lib.layers.Dense(3)(h))


def two_in_two_out(lib):
    a, b = lib.Input((4,), name="a"), lib.Input((3,), name="b")
    h = lib.layers.Concatenate()([lib.layers.Dense(5, activation="gelu")(a), b])
    h = lib.layers.LayerNormalization()(h)
    first = lib.layers.Dense(2, name="first")(h)
    second = lib.layers.Add(name="second")([lib.layers.Dense(2)(h), first])
    return lib.Model([a, b], [first, second])


def nested(lib):
    inner = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, activation="tanh"),
                            lib.layers.Dense(3)], name="inner")
    inputs = lib.Input((4,))
    return lib.Model(inputs, lib.layers.Dense(2)(inner(inputs)))


FAMILIES = {f.__name__: f for f in (mlp, conv, recurrent, sequence_conv, embedding,
                                    two_in_two_out, nested)}


def randomize(model, rng):
    """Fresh random weights (never the initial zeros and ones); variances stay positive."""
    values = []
    for w in model.weights:
        v = rng.normal(scale=0.5, size=tuple(w.shape)).astype("float32")
        values.append(np.abs(v) + 0.5 if "variance" in w.path else v)
    model.set_weights(values)


def inputs_for(model, rng, rows=9):
    xs = []
    for i in model.inputs:
        shape = (rows,) + tuple(i.shape[1:])
        if "int" in str(i.dtype):
            xs.append(rng.integers(0, 20, size=shape).astype("int32"))
        else:
            xs.append(rng.normal(size=shape).astype("float32"))
    return xs


def as_list(y):
    return [np.asarray(v) for v in (y if isinstance(y, (list, tuple)) else [y])]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("writer", ["ember", "keras"])
def test_cpp_predicts_what_keras_and_ember_predict(writer, family, keras, rng, tmp_path):
    lib = ember if writer == "ember" else keras
    model = FAMILIES[family](lib)
    randomize(model, rng)
    xs = inputs_for(model, rng)
    feed = xs if len(xs) > 1 else xs[0]
    # The writer's own predictions, and the other library's for the file it loads (Keras
    # loads the .keras file ember wrote; ember loads the .h5 file Keras wrote).
    own = as_list(model.predict(feed, verbose=0))
    for ext in (".keras", ".h5"):
        path = tmp_path / f"model{ext}"
        model.save(path)
        got = cpp_predict(path, xs, tmp_path)
        if writer == "ember":
            want_ember = own
            want_keras = (as_list(keras.models.load_model(path).predict(feed, verbose=0))
                          if ext == ".keras" else None)
        else:
            want_keras = own
            want_ember = (as_list(ember.models.load_model(path).predict(feed, verbose=0))
                          if ext == ".h5" else None)
        assert len(got) == len(own)
        for i, g in enumerate(got):
            if want_keras is not None:
                np.testing.assert_allclose(g, want_keras[i].ravel(), rtol=1e-5, atol=1e-5,
                                           err_msg=f"{writer} {family}{ext}: C++ vs Keras")
            if want_ember is not None:
                np.testing.assert_array_equal(
                    g, want_ember[i].ravel(), err_msg=f"{writer} {family}{ext}: C++ vs ember")


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_cpp_predicts_keras2_h5_files(kind, rng, tmp_path):
    path = tmp_path / "keras2.h5"
    weights = write_keras2_h5(path, kind, rng)
    x = rng.normal(size=(11, 6)).astype("float32")
    (got,) = cpp_predict(path, [x], tmp_path)
    np.testing.assert_allclose(got, keras2_reference(weights, x).ravel(), rtol=1e-5, atol=1e-6)


def test_a_damaged_file_is_a_clear_error_not_a_crash(rng, tmp_path):
    model = mlp(ember)
    path = tmp_path / "m.keras"
    model.save(path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))
    done = subprocess.run([str(PROGRAM), str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not a readable zip archive" in done.stderr
