"""SimpleRNN, LSTM, GRU and Bidirectional against Keras 3 (jax) and float64 NumPy.

Parity tests copy random weights into both libraries and compare forward passes (every
return_sequences / return_state / go_backwards combination, with and without a mask) and a
few epochs of training (shuffle=False). Gradients through masked sequences are checked by
one SGD step with learning rate 1 against central differences of a float64 NumPy forward
pass; the C++ op test (cpp/tests/test_backend_ops.cpp) checks every op variant the same way,
dropout included. Files move both ways with Keras 3, and Keras 2's `.h5` layouts load.
"""

import json

import ember
import h5py
import numpy as np
import pytest
from parity import assert_weights_close

FORWARD_TOL = {"rtol": 1e-5, "atol": 2e-6}
WEIGHTS_TOL = {"rtol": 1e-4, "atol": 1e-5}
CELLS = {"simple_rnn": ("SimpleRNN", {}), "lstm": ("LSTM", {}), "gru": ("GRU", {}),
         "gru_reset_before": ("GRU", {"reset_after": False})}


def make(lib, cell, units=5, **kwargs):
    name, extra = CELLS[cell]
    return getattr(lib.layers, name)(units, **extra, **kwargs)


def random_mask(rng, batch, steps):
    mask = rng.random((batch, steps)) > 0.3
    mask[0] = True          # one row unmasked
    mask[1, steps // 2:] = False  # one right-padded row
    mask[2, :2] = False     # one left-padded row
    return mask


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# -- float64 NumPy reference -----------------------------------------------------------------
def _act(name, z):
    return {"tanh": np.tanh, "sigmoid": lambda v: 0.5 * (1 + np.tanh(v / 2)),
            "relu": lambda v: np.maximum(v, 0),
            "hard_sigmoid": lambda v: np.clip(v + 3, 0, 6) / 6, "linear": lambda v: v}[name](z)


def rnn_reference(cell, weights, x, mask=None, return_sequences=False, go_backwards=False,
                  return_state=False, zero_output_for_mask=False, activation="tanh",
                  recurrent_activation="sigmoid"):
    """Keras 3's recurrence in float64: masked steps carry the states and repeat the output
    (or output zeros with zero_output_for_mask); go_backwards returns the reversed sequence."""
    W, U = (np.asarray(w, np.float64) for w in weights[:2])
    b = np.asarray(weights[2], np.float64) if len(weights) > 2 else None
    H = U.shape[0]
    batch, steps, _ = x.shape
    h, c = np.zeros((batch, H)), np.zeros((batch, H))
    outs = []
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    act = lambda z: _act(activation, z)  # noqa: E731
    ract = lambda z: _act(recurrent_activation, z)  # noqa: E731
    for t in order:
        xp = x[:, t] @ W
        reset_after = cell == "gru" and b is not None and b.ndim == 2
        if b is not None:
            xp = xp + (b[0] if reset_after else b)
        rp = h @ U
        if reset_after:
            rp = rp + b[1]
        if cell == "simple_rnn":
            hn, cn = act(xp + rp), c
        elif cell == "lstm":
            i, f, g, o = np.split(xp + rp, 4, axis=1)
            cn = ract(f) * c + ract(i) * act(g)
            hn = ract(o) * act(cn)
        else:
            z = ract(xp[:, :H] + rp[:, :H])
            r = ract(xp[:, H:2 * H] + rp[:, H:2 * H])
            if cell == "gru":
                hh = act(xp[:, 2 * H:] + r * rp[:, 2 * H:])
            else:
                hh = act(xp[:, 2 * H:] + (r * h) @ U[:, 2 * H:])
            hn, cn = z * h + (1 - z) * hh, c
        keep = mask[:, t:t + 1] if mask is not None else np.ones((batch, 1), bool)
        outs.append(np.where(keep, hn, 0.0 if zero_output_for_mask else h))
        h, c = np.where(keep, hn, h), np.where(keep, cn, c)
    out = np.stack(outs, axis=1) if return_sequences else outs[-1]
    if return_state:
        return [out, h, c] if cell == "lstm" else [out, h]
    return out


def built(lib, cell, rng, units=5, features=3, **kwargs):
    layer = make(lib, cell, units, **kwargs)
    layer.build((None, 6, features))
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                       for w in layer.weights])
    return layer


@pytest.mark.parametrize("cell", list(CELLS))
def test_forward_matches_float64_reference_for_every_sequence_option(cell, rng):
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    mask = random_mask(rng, 4, 6)
    for rs in (False, True):
        for st in (False, True):
            for gb in (False, True):
                for zero in (False, True):
                    args = dict(return_sequences=rs, return_state=st, go_backwards=gb,
                                zero_output_for_mask=zero)
                    layer = built(ember, cell, rng, **args)
                    for m in (None, mask):
                        want = as_list(rnn_reference(cell, layer.get_weights(), x, m, **args))
                        got = as_list(layer(x, mask=m))
                        assert len(got) == len(want)
                        for g, w in zip(got, want):
                            np.testing.assert_allclose(g, w, **FORWARD_TOL,
                                                       err_msg=f"{args} {m is not None}")


@pytest.mark.parametrize("activation, recurrent_activation",
                         [("relu", "hard_sigmoid"), ("linear", "tanh"), ("sigmoid", "linear")])
def test_other_activations_match_the_reference(activation, recurrent_activation, rng):
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    for cell in CELLS:
        args = dict(activation=activation, recurrent_activation=recurrent_activation)
        if cell == "simple_rnn":
            args.pop("recurrent_activation")
        layer = built(ember, cell, rng, 4, 2, return_sequences=True, **args)
        want = rnn_reference(cell, layer.get_weights(), x, return_sequences=True, **args)
        # Linear gates let values grow (to ~1e2): float32 rounding grows with them.
        np.testing.assert_allclose(layer(x), want, rtol=1e-4,
                                   atol=1e-5 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("cell", list(CELLS))
def test_forward_matches_keras_with_a_mask(cell, keras, rng):
    # The reference above is Keras's semantics; here Keras itself, on the widest option set.
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    mask = random_mask(rng, 4, 6)
    args = dict(return_sequences=True, return_state=True, go_backwards=True, name="rnn")
    e = built(ember, cell, rng, **args)
    k = make(keras, cell, **args)
    k.build((None, 6, 3))
    k.set_weights(e.get_weights())
    assert [w.path for w in e.weights] == [w.path for w in k.weights]
    for got, want in zip(e(x, mask=mask), k(x, mask=mask)):
        np.testing.assert_allclose(got, np.asarray(want), **FORWARD_TOL)


# -- training parity with Keras ---------------------------------------------------------------
def randomize(model, rng):
    model.set_weights([rng.normal(scale=0.4, size=w.shape).astype("float32")
                       for w in model.weights])


def test_training_matches_keras(keras, rng):
    """Every cell in one model (Keras compiles it once): sequence-returning and backwards
    layers, LSTM states as outputs, a Bidirectional with its own backward layer."""
    # Whole batches only: Keras compiles its step once.
    x = rng.normal(size=(48, 5, 3)).astype("float32")
    y = rng.normal(size=(48, 2)).astype("float32")

    def build(lib):
        L = lib.layers
        inp = lib.Input((5, 3))
        h = L.Bidirectional(L.GRU(3, return_sequences=True),
                            backward_layer=L.SimpleRNN(3, return_sequences=True,
                                                       go_backwards=True))(inp)
        h, state_h, state_c = L.LSTM(4, return_sequences=True, return_state=True)(h)
        h = L.GRU(3, reset_after=False, go_backwards=True)(h)
        return lib.Model(inp, L.Dense(2)(L.Concatenate()([h, state_h, state_c])))

    km, em = build(keras), build(ember)
    randomize(km, rng)
    em.set_weights(km.get_weights())
    km.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    em.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")
    kh = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    eh = em.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=1e-4)
    for kw, ew in zip(km.get_weights(), em.get_weights()):
        assert_weights_close(ew, kw, **WEIGHTS_TOL)


# -- Bidirectional ---------------------------------------------------------------------------
def bidirectional_reference(merge_mode, fwd, bwd, x, mask, return_sequences, return_state):
    args = dict(return_sequences=return_sequences, return_state=True,
                zero_output_for_mask=return_sequences)
    y, *fs = rnn_reference("lstm", fwd, x, mask, **args)
    y_rev, *bs = rnn_reference("lstm", bwd, x, mask, go_backwards=True, **args)
    if return_sequences:
        y_rev = y_rev[:, ::-1]
    out = {"concat": lambda: [np.concatenate([y, y_rev], -1)], "sum": lambda: [y + y_rev],
           "mul": lambda: [y * y_rev], "ave": lambda: [(y + y_rev) / 2],
           None: lambda: [y, y_rev]}[merge_mode]()
    return out + fs + bs if return_state else out


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_matches_the_reference_and_keras(merge_mode, keras, rng):
    x = rng.normal(size=(4, 5, 3)).astype("float32")
    mask = random_mask(rng, 4, 5)
    for rs in (False, True):
        for st in (False, True):
            args = dict(return_sequences=rs, return_state=st)
            e = ember.layers.Bidirectional(ember.layers.LSTM(3, name="lstm", **args),
                                           merge_mode=merge_mode, name="bi")
            e.build((None, 5, 3))
            randomize(e, rng)
            fwd, bwd = e.get_weights()[:3], e.get_weights()[3:]
            for m in (None, mask):
                want = bidirectional_reference(merge_mode, fwd, bwd, x, m, rs, st)
                got = as_list(e(x, mask=m))
                assert len(got) == len(want), args
                for g, w in zip(got, want):
                    np.testing.assert_allclose(g, w, **FORWARD_TOL, err_msg=f"{args}")
    if merge_mode not in ("concat", None):
        return  # the merges themselves are Add / Multiply / Average, tested on their own
    # Keras itself, on the widest options.
    k = keras.layers.Bidirectional(keras.layers.LSTM(3, name="lstm", **args),
                                   merge_mode=merge_mode, name="bi")
    k.build((None, 5, 3))
    assert [w.path for w in e.weights] == [w.path for w in k.weights]
    k.set_weights(e.get_weights())
    for g, w in zip(as_list(e(x, mask=mask)), k(x, mask=mask)):
        np.testing.assert_allclose(g, np.asarray(w), **FORWARD_TOL)


# -- masked gradients against float64 NumPy -------------------------------------------------
class _MaskedCall(ember.layers.Layer):
    """Test hook: calls a recurrent layer on [sequence, mask] inputs of a model."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.inner = layer

    def build(self, input_shape):
        self.inner._maybe_build(input_shape[0])
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.inner.compute_output_shape(input_shape[0])

    def _emit(self, graph, input_nodes, mask_nodes=None):
        return self.inner._emit(graph, [input_nodes[0]], [input_nodes[1]])


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("return_sequences, go_backwards", [(True, False), (False, True)])
def test_masked_gradients_match_central_differences(cell, return_sequences, go_backwards, rng):
    batch, steps, features = 4, 5, 2
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    mask = random_mask(rng, batch, steps)
    layer = make(ember, cell, 3, return_sequences=return_sequences, go_backwards=go_backwards)
    xi, mi = ember.Input((steps, features)), ember.Input((steps,))
    model = ember.Model([xi, mi], _MaskedCall(layer)([xi, mi]))
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.weights]
    layer.set_weights(weights)
    out_shape = (batch, steps, 3) if return_sequences else (batch, 3)
    y = rng.normal(size=out_shape).astype("float32")
    np.testing.assert_allclose(model.predict([x, mask.astype("float32")], verbose=0),
                               rnn_reference(cell, weights, x, mask, return_sequences,
                                             go_backwards), rtol=1e-5, atol=1e-6)
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=1.0), loss="mse")
    model.train_on_batch([x, mask.astype("float32")], y)
    analytic = [w0 - w.numpy() for w0, w in zip(weights, layer.weights)]
    params = [w.astype(np.float64) for w in weights]

    def loss():
        out = rnn_reference(cell, params, x, mask, return_sequences, go_backwards)
        return np.mean((out - y) ** 2)
    for p, a in zip(params, analytic):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + 1e-6
            up = loss()
            p[i] = saved - 1e-6
            numeric[i] = (up - loss()) / 2e-6
            p[i] = saved
        np.testing.assert_allclose(a, numeric, rtol=1e-3, atol=2e-6)


# -- dropout ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", list(CELLS))
def test_dropout_acts_in_training_only(cell, rng):
    x = rng.normal(size=(8, 6, 3)).astype("float32")
    plain = make(ember, cell, 4, return_sequences=True)
    dropped = make(ember, cell, 4, return_sequences=True, dropout=0.5, recurrent_dropout=0.3,
                   seed=3)
    plain.build((None, 6, 3))
    dropped.build((None, 6, 3))
    dropped.set_weights(plain.get_weights())
    np.testing.assert_array_equal(dropped(x), plain(x))
    np.testing.assert_array_equal(dropped(x, training=False), plain(x))
    first, second = dropped(x, training=True), dropped(x, training=True)
    assert not np.allclose(first, plain(x))
    assert not np.allclose(first, second)  # fresh masks per call


def _identity_rnn(units, **kwargs):
    """A linear SimpleRNN with identity kernels: h_t = x_t * m_in + h_{t-1} * m_rec."""
    layer = ember.layers.SimpleRNN(units, activation="linear", use_bias=False,
                                   return_sequences=True, **kwargs)
    layer.build((None, 3, units))
    layer.set_weights([np.eye(units, dtype="float32"), np.eye(units, dtype="float32")])
    return layer


def test_input_dropout_mask_is_fixed_across_timesteps(rng):
    rate, units = 0.4, 50
    layer = _identity_rnn(units, dropout=rate, seed=11)
    x = rng.uniform(0.5, 1.5, size=(200, 3, units)).astype("float32")
    x[:, 1:] = x[:, :1]  # the same input at every step
    y = layer(x, training=True)
    m0 = y[:, 0] / x[:, 0]
    # Steps 1 and 2 add m * x_t to the carried state: the same mask, so exactly 2x and 3x.
    np.testing.assert_allclose(y[:, 1], 2 * y[:, 0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y[:, 2], 3 * y[:, 0], rtol=1e-6, atol=1e-6)
    values = np.unique(np.round(m0, 5))
    np.testing.assert_allclose(values, [0.0, round(1 / (1 - rate), 5)], atol=1e-4)
    kept = (m0 > 0).mean()  # 10,000 draws: within 5 standard deviations of 1 - rate
    assert abs(kept - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / m0.size)


def test_recurrent_dropout_mask_is_fixed_across_timesteps(rng):
    rate, units = 0.3, 50
    layer = _identity_rnn(units, recurrent_dropout=rate, seed=5)
    x = np.zeros((200, 3, units), "float32")
    x[:, 0] = rng.uniform(0.5, 1.5, size=(200, units))
    y = layer(x, training=True)  # h0 = x0, h1 = h0 * m, h2 = h1 * m
    m = np.divide(y[:, 1], y[:, 0])
    np.testing.assert_allclose(y[:, 2], y[:, 1] * m, rtol=1e-5, atol=1e-6)
    kept = (m > 0).mean()
    assert abs(kept - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / m.size)
    np.testing.assert_allclose(m[m > 0], 1 / (1 - rate), rtol=1e-6)


def test_training_with_dropout_runs_and_predicts_deterministically(rng):
    x = rng.normal(size=(64, 6, 3)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("float32")
    model = ember.Sequential([ember.Input((6, 3)),
                              ember.layers.LSTM(8, dropout=0.2, recurrent_dropout=0.2),
                              ember.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


# -- files -----------------------------------------------------------------------------------
def build_file_model(lib):
    L = lib.layers
    return lib.Sequential([
        lib.Input((5, 3)),
        L.Bidirectional(L.LSTM(4, return_sequences=True, name="lstm"), merge_mode="sum",
                        name="bi"),
        L.GRU(3, return_sequences=True, reset_after=False, name="gru_before"),
        L.SimpleRNN(3, return_sequences=True, go_backwards=True, name="simple"),
        L.GRU(2, name="gru_after")])


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_model_files_move_both_ways_with_keras(ext, keras, rng, tmp_path):
    x = rng.normal(size=(6, 5, 3)).astype("float32")
    km = build_file_model(keras)
    randomize(km, rng)
    km.save(tmp_path / f"k{ext}")
    em = ember.models.load_model(tmp_path / f"k{ext}", compile=False)
    np.testing.assert_allclose(em.predict(x, verbose=0), km.predict(x, verbose=0),
                               **FORWARD_TOL)
    em.save(tmp_path / f"e{ext}")
    back = keras.models.load_model(tmp_path / f"e{ext}")
    np.testing.assert_allclose(back.predict(x, verbose=0), km.predict(x, verbose=0),
                               **FORWARD_TOL)
    assert [w.path for w in em.weights] == [w.path.split("/", 1)[1] for w in km.weights]
    assert em.weights[0].path == "bi/forward_lstm/lstm_cell/kernel"


def test_weights_files_move_both_ways_with_keras(keras, rng, tmp_path):
    x = rng.normal(size=(6, 5, 3)).astype("float32")
    km, em = build_file_model(keras), build_file_model(ember)
    randomize(km, rng)
    km.save_weights(tmp_path / "k.weights.h5")
    em.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(em.predict(x, verbose=0), km.predict(x, verbose=0),
                               **FORWARD_TOL)
    randomize(em, rng)
    em.save_weights(tmp_path / "e.weights.h5")
    km.load_weights(tmp_path / "e.weights.h5")
    np.testing.assert_allclose(km.predict(x, verbose=0), em.predict(x, verbose=0),
                               **FORWARD_TOL)


def _keras2_rnn_config(class_name, name, units, input_shape=None, **extra):
    """A tf.keras 2.x LSTM / GRU config: initializers without "module", `time_major`,
    `implementation` and GRU's `reset_after` (default True in TF 2)."""
    config = {"name": name, "trainable": True, "dtype": "float32",
              "return_sequences": extra.pop("return_sequences", False), "return_state": False,
              "go_backwards": False, "stateful": False, "unroll": False, "time_major": False,
              "units": units, "activation": "tanh", "recurrent_activation": "sigmoid",
              "use_bias": True,
              "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
              "recurrent_initializer": {"class_name": "Orthogonal",
                                        "config": {"gain": 1.0, "seed": None}},
              "bias_initializer": {"class_name": "Zeros", "config": {}},
              "kernel_regularizer": None, "recurrent_regularizer": None,
              "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "recurrent_constraint": None,
              "bias_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0,
              "implementation": 2, **extra}
    if input_shape is not None:
        config["batch_input_shape"] = [None, *input_shape]
    return {"class_name": class_name, "config": config}


def write_keras2_rnn_h5(path, rng, full_model=True):
    """An LSTM -> GRU model as tf.keras 2.x wrote it (`hdf5_format.py`): weight names
    `lstm/lstm_cell/kernel:0`, GRU's bias (2, 3 * units) under reset_after=True."""
    weights = {
        "lstm": [rng.normal(scale=0.5, size=s).astype("float32")
                 for s in ((3, 16), (4, 16), (16,))],
        "gru": [rng.normal(scale=0.5, size=s).astype("float32")
                for s in ((4, 6), (2, 6), (2, 6))],
    }
    layers = [_keras2_rnn_config("LSTM", "lstm", 4, (5, 3), return_sequences=True,
                                 unit_forget_bias=True),
              _keras2_rnn_config("GRU", "gru", 2, reset_after=True)]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 5, 3],
                                                "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "lstm_input"}},
        *layers]}}
    with h5py.File(path, "w") as f:
        root = f
        if full_model:
            f.attrs["keras_version"] = "2.9.0"
            f.attrs["backend"] = "tensorflow"
            f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
            root = f.create_group("model_weights")
        root.attrs["layer_names"] = [b"lstm", b"gru"]
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.9.0"
        for layer in ("gru", "lstm"):
            group = root.create_group(layer)
            names = [f"{layer}/{layer}_cell/{w}:0".encode()
                     for w in ("kernel", "recurrent_kernel", "bias")]
            group.attrs["weight_names"] = names
            for name, value in zip(names, weights[layer]):
                group.create_dataset(name, value.shape, dtype=value.dtype)[:] = value
    return weights


def keras2_rnn_reference(weights, x):
    h = rnn_reference("lstm", weights["lstm"], x, None, True, False)
    return rnn_reference("gru", weights["gru"], h, None, False, False)


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
def test_keras2_lstm_and_gru_h5_files_load(rng, tmp_path):
    # (Keras 3 itself refuses these configs: it has no `time_major` argument.)
    path = tmp_path / "keras2.h5"
    weights = write_keras2_rnn_h5(path, rng)
    x = rng.normal(size=(4, 5, 3)).astype("float32")
    model = ember.models.load_model(path, compile=False)
    np.testing.assert_allclose(model.predict(x, verbose=0), keras2_rnn_reference(weights, x),
                               rtol=1e-5, atol=1e-6)


def test_keras2_lstm_and_gru_h5_weights_load_into_a_model(rng, tmp_path):
    path = tmp_path / "keras2_weights.h5"
    weights = write_keras2_rnn_h5(path, rng, full_model=False)
    model = ember.Sequential([ember.Input((5, 3)), ember.layers.LSTM(4, return_sequences=True),
                              ember.layers.GRU(2)])
    model.load_weights(path)
    x = rng.normal(size=(4, 5, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), keras2_rnn_reference(weights, x),
                               rtol=1e-5, atol=1e-6)


def test_layer_configs_are_keras_3s(keras):
    for cell in CELLS:
        k, e = make(keras, cell, 3, name="r"), make(ember, cell, 3, name="r")
        kc, ec = k.get_config(), e.get_config()
        if cell == "simple_rnn":
            kc.setdefault("seed", None)  # Keras 3's SimpleRNN leaves its seed out
        assert set(ec) == set(kc), cell
        for key in ("units", "activation", "recurrent_activation", "return_sequences",
                    "zero_output_for_mask", "reset_after", "unit_forget_bias", "dropout"):
            assert ec.get(key) == kc.get(key), (cell, key)


# -- bad input -------------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="stateful=True"):
        ember.layers.LSTM(4, stateful=True)
    with pytest.raises(ValueError, match="activation.*not supported"):
        ember.layers.GRU(4, activation="gelu")
    with pytest.raises(ValueError, match="recurrent_activation.*not supported"):
        ember.layers.LSTM(4, recurrent_activation="softmax")
    with pytest.raises(ValueError, match="units"):
        ember.layers.SimpleRNN(0)
    with pytest.raises(ValueError, match="time_major"):
        ember.layers.LSTM.from_config({"units": 3, "time_major": True})
    with pytest.raises(ValueError, match="merge mode"):
        ember.layers.Bidirectional(ember.layers.LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards"):
        ember.layers.Bidirectional(ember.layers.LSTM(3),
                                   backward_layer=ember.layers.LSTM(3))


def test_wrong_input_rank_raises_clear_errors(rng):
    with pytest.raises(ValueError, match="ndim=3"):
        ember.Sequential([ember.Input((5,)), ember.layers.LSTM(3)])
    with pytest.raises(ValueError, match="ndim=3"):
        ember.layers.GRU(3)(rng.normal(size=(4, 5)).astype("float32"))
    layer = ember.layers.LSTM(3)
    with pytest.raises(ValueError, match="mask must have shape"):
        layer(rng.normal(size=(4, 5, 2)).astype("float32"), mask=np.ones((4, 6), bool))
    layer = ember.layers.LSTM(3)
    layer(rng.normal(size=(2, 5, 2)).astype("float32"))
    # The engine's layer builder checks the weights against what the input needs.
    with pytest.raises(ValueError, match=r"kernel \(4, 12\).* got 3 \(kernel \(2, 12\)"):
        layer(rng.normal(size=(2, 5, 4)).astype("float32"))


# -- tutorial: a sequence classifier learns ----------------------------------------------------
def test_lstm_learns_whether_a_sequence_contains_a_pattern(rng):
    """Sequences of 12 symbols (one-hot, 4 kinds); the label says whether "2 then 3" occurs."""
    ember.utils.set_random_seed(7)
    n, steps = 1200, 12
    symbols = rng.integers(0, 4, size=(n, steps))
    y = np.any((symbols[:, :-1] == 2) & (symbols[:, 1:] == 3), axis=1).astype("float32")
    x = np.eye(4, dtype="float32")[symbols]
    model = ember.Sequential([ember.Input((steps, 4)), ember.layers.LSTM(16),
                              ember.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.02),
                  loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:1000], y[:1000], epochs=15, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x[1000:], y[1000:], verbose=0)
    assert accuracy > 0.95


def _engine_masks(layer, with_mask=True):
    """The output masks the engine's layer builder gives `layer` on a (4, 3) input carrying a
    mask node (or none): -1 where an output has none, "in" where it is the input's."""
    from ember.layers.layer import engine_build_layer

    layer._maybe_build((None, 4, 3))
    graph = ember._core.Graph()
    x, mask = graph.add_input([4, 3], "x"), graph.add_input([4], "mask")
    _, _, masks = engine_build_layer(layer, graph, [x], None, [mask if with_mask else None])
    return [("in" if m == mask else m) for m in masks]


def test_output_masks_follow_the_mask_contract():
    """The mask contract (notes/ISSUE11.md): sequence outputs keep the input's mask, last
    outputs and states have none."""
    assert _engine_masks(ember.layers.GRU(2, return_sequences=True)) == ["in"]
    assert _engine_masks(ember.layers.GRU(2)) == [None]
    assert _engine_masks(ember.layers.LSTM(2, return_sequences=True, return_state=True)) == \
        ["in", None, None]
    assert _engine_masks(ember.layers.LSTM(2, return_sequences=True), with_mask=False) == [None]
    bi = ember.layers.Bidirectional(ember.layers.LSTM(3, return_sequences=True,
                                                      return_state=True), merge_mode=None)
    assert _engine_masks(bi) == ["in", "in", None, None, None, None]
    assert _engine_masks(ember.layers.Bidirectional(ember.layers.SimpleRNN(3))) == [None]
