"""EinsumDense, Attention, AdditiveAttention and ReversibleEmbedding against Keras 3 (jax)
and float64 NumPy.

Parity: Keras's randomized weights copied into ember, the same outputs on fresh random
inputs, two epochs of Adam on the same batches giving the same weights, and `.keras` /
`.h5` files both ways. The engine ops under them (the einsum contraction, the batched
matmul, the masked softmax) are also checked here against float64 NumPy, forward and
gradient; cpp/tests/test_backend_ops.cpp checks them against central differences.
Activations are smooth (tanh): a relu's kink flips on float32 rounding in wide layers.
"""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

FORWARD_TOL = {"rtol": 1e-5, "atol": 1e-5}


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32")
                       for w in model.weights])


def _same_weights(keras_model, ember_model, rng):
    """Keras's randomized weights into ember, matched by path (the two libraries list a
    model of several branches in different orders)."""
    _randomize(keras_model, rng)
    keras_weights = {w.path: w.numpy() for w in keras_model.weights}
    assert sorted(w.path for w in ember_model.weights) == sorted(keras_weights)
    ember_model.set_weights([keras_weights[w.path] for w in ember_model.weights])


def _assert_same_weights(keras_model, ember_model):
    """After two epochs of Adam. Adam divides by each gradient's running size, so in a first
    layer under several branches a small gradient's float32 summation-order noise (the two
    libraries' GEMMs differ) grows to a few 1e-6 absolute; a wrong gradient moves weights by
    far more."""
    keras_weights = {w.path: w.numpy() for w in keras_model.weights}
    for w in ember_model.weights:
        assert_weights_close(w.numpy(), keras_weights[w.path], rtol=1e-4, atol=1e-5,
                             err_msg=w.path)


def _train_both(keras, keras_model, ember_model, x, y, loss="mse"):
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=loss)
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss=loss)
    keras_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ember_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _assert_same_weights(keras_model, ember_model)


def _files_both_ways(keras, rng, tmp_path, make, x, suffixes=(".keras", ".h5")):
    """make(lib) -> model; Keras's file into ember and ember's into Keras, .keras and .h5."""
    for suffix in suffixes:
        keras_model = make(keras)
        _randomize(keras_model, rng)
        keras_model.save(tmp_path / f"k{suffix}")
        loaded = ember.saving.load_model(tmp_path / f"k{suffix}")
        np.testing.assert_allclose(loaded.predict(x, verbose=0),
                                   keras_model.predict(x, verbose=0), **FORWARD_TOL)
        ember_model = make(ember)
        _randomize(ember_model, rng)
        ember_model.save(tmp_path / f"e{suffix}")
        loaded = keras.saving.load_model(tmp_path / f"e{suffix}")
        np.testing.assert_allclose(loaded.predict(x, verbose=0),
                                   ember_model.predict(x, verbose=0), **FORWARD_TOL)


# ---- EinsumDense ------------------------------------------------------------------------

# name: (input shape, equation, output_shape, bias_axes). Keras's symbolic output keeps a
# `None` of output_shape as unknown (a Flatten after it could not be built), so these name
# every length; test_einsum_dense_fills_unknown_lengths_from_the_input covers `None`.
EINSUM = {
    "dense": ((6,), "ab,bc->ac", 5, "c"),
    "sequence": ((3, 6), "abc,cd->abd", (3, 4), "d"),
    "to_heads": ((3, 6), "abc,cde->abde", (3, 2, 3), "de"),
    "from_heads": ((3, 2, 4), "abcd,cde->abe", (3, 5), "e"),
    "left_ellipsis": ((3, 6), "...b,bc->...c", 5, "c"),
    "right_ellipsis": ((4, 3), "ab...,bc->ac...", 5, "c"),
    "permuted": ((3, 6), "abc,dc->adb", (5, 3), "d"),
    "input_permuted": ((3, 6), "abc,be->ace", (6, 4), None),
    "per_position": ((3, 6), "abc,bcd->abd", (3, 4), "d"),
    "per_position_permuted": ((3, 6), "abc,cbd->adb", (4, 3), "bd"),
}


def _einsum_model(lib, names, activation="tanh"):
    """One branch per equation - Dense, EinsumDense, Flatten - joined into one head, so one
    Keras model (one compilation) covers them all; inputs in the order of `names`."""
    inputs, flat = [], []
    for name in names:
        shape, equation, output_shape, bias_axes = EINSUM[name]
        inputs.append(lib.Input(shape, name=f"in_{name}"))
        x = lib.layers.Dense(shape[-1], name=f"before_{name}")(inputs[-1])
        x = lib.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes,
                                   activation=activation, name=f"einsum_{name}")(x)
        flat.append(lib.layers.Flatten()(x) if len(x.shape) > 2 else x)
    x = lib.layers.Concatenate()(flat) if len(flat) > 1 else flat[0]
    return lib.Model(inputs, lib.layers.Dense(3, name="head")(x))


def _einsum_data(rng, names, n):
    return [rng.normal(size=(n, *EINSUM[name][0])).astype("float32") for name in names]


def test_einsum_dense_matches_keras_forward(keras, rng):
    names = sorted(EINSUM)
    keras_model, ember_model = _einsum_model(keras, names), _einsum_model(ember, names)
    _same_weights(keras_model, ember_model, rng)
    for name in names:
        assert ember_model.get_layer(f"einsum_{name}").kernel.shape == \
            tuple(keras_model.get_layer(f"einsum_{name}").kernel.shape)
    x = _einsum_data(rng, names, 7)
    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), **FORWARD_TOL)


def test_two_epochs_through_einsum_dense_match_keras(keras, rng):
    names = ["to_heads", "permuted", "per_position_permuted", "right_ellipsis", "input_permuted"]
    keras_model, ember_model = _einsum_model(keras, names), _einsum_model(ember, names)
    _same_weights(keras_model, ember_model, rng)
    y = rng.normal(size=(32, 3)).astype("float32")
    _train_both(keras, keras_model, ember_model, _einsum_data(rng, names, 32), y)


@pytest.mark.parametrize("name", sorted(EINSUM))
def test_einsum_dense_config_and_weight_shapes_match_keras(keras, name):
    shape, equation, output_shape, bias_axes = EINSUM[name]
    layers = [lib.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes,
                                     kernel_regularizer="l2", name="e")
              for lib in (keras, ember)]
    for layer in layers:
        layer.build((None, *shape))
    keras_config, ember_config = (layer.get_config() for layer in layers)
    for config in (keras_config, ember_config):
        config.pop("dtype")
    assert ember_config == keras_config
    assert [w.shape for w in layers[1].weights] == [tuple(w.shape) for w in layers[0].weights]
    assert [w.path for w in layers[1].weights] == [w.path for w in layers[0].weights]
    rebuilt = ember.layers.EinsumDense.from_config(ember_config).get_config()
    rebuilt.pop("dtype")
    assert rebuilt == ember_config


def test_einsum_dense_kernel_initializer_uses_keras_fans(keras):
    """Keras's variance scaling over an EinsumDense kernel counts the contracted axes as
    fan-in and the produced ones as fan-out (here 6 and 2 * 3, not 3 * 2 and 3)."""
    layer = ember.layers.EinsumDense("abc,cde->abde", (None, 2, 3),
                                     kernel_initializer=ember.initializers.VarianceScaling(
                                         scale=1.0, mode="fan_out", distribution="uniform",
                                         seed=3))
    layer.build((None, 4, 6))
    limit = np.sqrt(3.0 / 6)
    kernel = layer.kernel.numpy()
    assert kernel.shape == (6, 2, 3)
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.8 * limit


def _np_einsum_layer(layer, x):
    """The layer's output in float64 NumPy, and what the gradient rules need."""
    equation = layer._analysis((None, *x.shape[1:]))[5]
    kernel = layer.kernel.numpy().astype(np.float64)
    y = np.einsum(equation, x.astype(np.float64), kernel)
    if layer.bias is not None:
        y = y + layer.bias.numpy().astype(np.float64)
    return equation, y


@pytest.mark.parametrize("name", sorted(EINSUM))
def test_einsum_dense_forward_and_gradients_match_float64_numpy(rng, name):
    """One SGD step (learning rate 1) on a sum of y * r loss moves the kernel by exactly
    -dL/dkernel = -einsum(x, r), and the bias by -r summed over its broadcast axes."""
    shape, equation, output_shape, bias_axes = EINSUM[name]
    inputs = ember.Input(shape)
    layer = ember.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, name="e")
    model = ember.Model(inputs, layer(inputs))
    _randomize(model, rng)
    x = rng.normal(size=(5, *shape)).astype("float32")
    explicit, want = _np_einsum_layer(layer, x)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer(x), want, rtol=1e-5, atol=1e-5)

    r = rng.normal(size=want.shape).astype("float32")

    def loss(y_true, y_pred):  # sum(y * r) / batch: d/dy = r / batch
        return ember.ops.sum(ember.ops.multiply(y_pred, y_true), axis=-1)

    before = [w.numpy().astype(np.float64) for w in layer.weights]
    flat_r = r.reshape(len(r), -1)
    flat = ember.Model(inputs, ember.layers.Flatten()(layer.output))
    flat.compile(optimizer=ember.optimizers.SGD(learning_rate=1.0), loss=loss)
    flat.train_on_batch(x, flat_r)
    g = r.astype(np.float64) / len(r)
    x_labels, rest = explicit.split(",")
    w_labels, out_labels = rest.split("->")
    dkernel = np.einsum(f"{x_labels},{out_labels}->{w_labels}", x.astype(np.float64), g)
    np.testing.assert_allclose(layer.kernel.numpy(), before[0] - dkernel, rtol=1e-5, atol=1e-5)
    if layer.bias is not None:
        bias_shape = layer.bias.shape
        lead = g.ndim - len(bias_shape)
        dbias = g.sum(axis=tuple(range(lead)))
        dbias = dbias.sum(axis=tuple(i for i, d in enumerate(bias_shape) if d == 1),
                          keepdims=True)
        np.testing.assert_allclose(layer.bias.numpy(), before[1] - dbias, rtol=1e-5, atol=1e-5)


def test_einsum_dense_input_gradient_matches_float64_numpy(rng):
    """d loss / d input through a permuted, per-position contraction: the first layer's
    kernel (a plain Dense) moves by x^T (dy W'^T), computed here in float64."""
    inputs = ember.Input((3, 6))
    before = ember.layers.Dense(6, use_bias=False, name="before")
    layer = ember.layers.EinsumDense("abc,cbd->adb", (4, None), name="e")
    model = ember.Model(inputs, ember.layers.Flatten()(layer(before(inputs))))
    _randomize(model, rng)
    x = rng.normal(size=(4, 3, 6)).astype("float32")
    r = rng.normal(size=(4, 12)).astype("float32")
    w0 = before.kernel.numpy().astype(np.float64)
    k = layer.kernel.numpy().astype(np.float64)

    def loss(y_true, y_pred):
        return ember.ops.sum(ember.ops.multiply(y_pred, y_true), axis=-1)

    model.compile(optimizer=ember.optimizers.SGD(learning_rate=1.0), loss=loss)
    model.train_on_batch(x, r)
    g = r.reshape(4, 4, 3).astype(np.float64) / 4          # d loss / d out (a, d, b)
    dh = np.einsum("adb,cbd->abc", g, k)                   # d loss / d hidden
    dw0 = np.einsum("abi,abc->ic", x.astype(np.float64), dh)
    np.testing.assert_allclose(before.kernel.numpy(), w0 - dw0, rtol=1e-5, atol=1e-5)


def test_einsum_dense_files_load_both_ways(keras, rng, tmp_path):
    for names in (["to_heads"], ["permuted"]):
        _files_both_ways(keras, rng, tmp_path, lambda lib, names=names: _einsum_model(lib, names),
                         _einsum_data(rng, names, 5))


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "error", "match"), [
    ("ab,bc", 4, None, ValueError, "Invalid einsum equation"),
    ("abc,cd->abd", (None, 4), "e", ValueError, "Bias dimension 'e'"),
    ("abc,cd->abe", (None, 4), None, ValueError, "Dimension 'e'"),
    ("abc,cdq->abd", (None, 4), None, ValueError, "Weight dimension 'q'"),
    ("abc,cd->abd", (7, 4), None, ValueError, "do not match at shared dimension 'b'"),
    ("ab,bc->ac", 4, None, ValueError, "names 2 input axes"),
    ("abc,cd->ad", 4, None, NotImplementedError, "sums over the input's axis 'b'"),
    ("abc,cd->bad", (None, 4), None, ValueError, "batch axis"),
    ("abb,bc->abc", (3, 4), None, ValueError, "repeats"),
    ("abc,cd->abd", (4, 5, 6), None, ValueError, "`output_shape`"),
])
def test_einsum_dense_bad_equations_raise_clearly(equation, output_shape, bias_axes, error,
                                                  match):
    inputs = ember.Input((3, 5))
    with pytest.raises(error, match=match):
        ember.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes)(inputs)


def test_einsum_dense_fills_unknown_lengths_from_the_input(keras, rng):
    x = rng.normal(size=(2, 3, 6)).astype("float32")
    for lib in (keras, ember):
        layer = lib.layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de")
        assert tuple(layer(x).shape) == (2, 3, 2, 3)
    assert ember.layers.EinsumDense("abc,cd->abd", (None, 4))(ember.Input((3, 6))).shape == \
        (None, 3, 4)


def test_einsum_dense_unsupported_arguments_raise():
    with pytest.raises(NotImplementedError, match="lora_rank"):
        ember.layers.EinsumDense("ab,bc->ac", 4, lora_rank=2)
    with pytest.raises(ValueError, match="output_shape"):
        ember.layers.EinsumDense("ab,bc->ac", -4)
    with pytest.raises(TypeError, match="equation"):
        ember.layers.EinsumDense(3, 4)


def test_einsum_dense_rejects_an_input_of_another_shape_after_build():
    layer = ember.layers.EinsumDense("abc,cd->abd", (None, 4))
    layer(ember.Input((3, 5)))
    with pytest.raises(ValueError, match="kernel of shape"):
        layer(ember.Input((3, 6)))


# ---- Attention and AdditiveAttention ----------------------------------------------------

TQ, TV, DIM = 4, 5, 6

# name: (make(lib, layer name), with a separate key, call keyword arguments)
ATTENTION = {
    "dot": (lambda lib, n: lib.layers.Attention(name=n), False, {}),
    "dot_scaled_key": (lambda lib, n: lib.layers.Attention(use_scale=True, name=n), True, {}),
    "dot_causal": (lambda lib, n: lib.layers.Attention(use_scale=True, name=n), False,
                   {"use_causal_mask": True}),
    "concat": (lambda lib, n: lib.layers.Attention(score_mode="concat", name=n), True, {}),
    "concat_scaled_causal": (lambda lib, n: lib.layers.Attention(
        score_mode="concat", use_scale=True, name=n), False, {"use_causal_mask": True}),
    "additive": (lambda lib, n: lib.layers.AdditiveAttention(name=n), True, {}),
    "additive_unscaled": (lambda lib, n: lib.layers.AdditiveAttention(use_scale=False, name=n),
                          False, {}),
    "additive_causal": (lambda lib, n: lib.layers.AdditiveAttention(name=n), True,
                        {"use_causal_mask": True}),
}


def _attention_model(lib, names):
    """Query and value projections, then one branch per variant, joined into one head."""
    q_in, v_in = lib.Input((TQ, DIM), name="q"), lib.Input((TV, DIM), name="v")
    q = lib.layers.Dense(DIM, activation="tanh", name="q_proj")(q_in)
    v = lib.layers.Dense(DIM, activation="tanh", name="v_proj")(v_in)
    flat = []
    for name in names:
        make, with_key, kwargs = ATTENTION[name]
        inputs = [q, v]
        if with_key:
            inputs.append(lib.layers.Dense(DIM, activation="tanh", name=f"k_{name}")(v_in))
        out = make(lib, f"att_{name}")(inputs, **kwargs)
        flat.append(lib.layers.Flatten()(out))
    x = lib.layers.Concatenate()(flat) if len(flat) > 1 else flat[0]
    return lib.Model([q_in, v_in], lib.layers.Dense(3, name="head")(x))


def _attention_data(rng, n, tq=TQ):
    return [rng.normal(size=(n, tq, DIM)).astype("float32"),
            rng.normal(size=(n, TV, DIM)).astype("float32")]


def test_attention_matches_keras_forward(keras, rng):
    names = sorted(ATTENTION)
    keras_model, ember_model = _attention_model(keras, names), _attention_model(ember, names)
    _same_weights(keras_model, ember_model, rng)
    x = _attention_data(rng, 7)
    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), **FORWARD_TOL)


def test_two_epochs_through_attention_match_keras(keras, rng):
    names = ["dot_causal", "concat", "additive"]
    keras_model, ember_model = _attention_model(keras, names), _attention_model(ember, names)
    _same_weights(keras_model, ember_model, rng)
    y = rng.normal(size=(32, 3)).astype("float32")
    _train_both(keras, keras_model, ember_model, _attention_data(rng, 32), y)


def _masked_model(lib):
    """Token ids -> Embedding(mask_zero) for query and value, so both carry masks, into dot
    and additive attention, causal or not, each giving its scores too."""
    q_in = lib.Input((TQ,), dtype="int32", name="q")
    v_in = lib.Input((TV,), dtype="int32", name="v")
    q = lib.layers.Embedding(7, DIM, mask_zero=True, name="q_emb")(q_in)
    v = lib.layers.Embedding(7, DIM, mask_zero=True, name="v_emb")(v_in)
    flat = []
    for kind in ("dot", "additive"):
        for causal in (False, True):
            name = f"{kind}_{causal}"
            layer = (lib.layers.Attention(use_scale=True, name=f"att_{name}") if kind == "dot"
                     else lib.layers.AdditiveAttention(name=f"att_{name}"))
            out, scores = layer([q, v], return_attention_scores=True, use_causal_mask=causal)
            out = lib.layers.Dense(DIM, activation="tanh", name=f"after_{name}")(out)
            flat += [lib.layers.Flatten()(out), lib.layers.Flatten()(scores)]
    return lib.Model([q_in, v_in], lib.layers.Dense(3, name="head")(
        lib.layers.Concatenate()(flat)))


def _ids(rng, n):
    q = rng.integers(0, 7, size=(n, TQ))
    v = rng.integers(0, 7, size=(n, TV))
    v[:, 0] = rng.integers(1, 7, size=n)  # every value line keeps a step
    v[0] = 0                              # ... but one, whose scores are all masked
    return [q.astype("int32"), v.astype("int32")]


def test_masks_and_attention_scores_match_keras(keras, rng):
    keras_model, ember_model = _masked_model(keras), _masked_model(ember)
    _same_weights(keras_model, ember_model, rng)
    x = _ids(rng, 16)
    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), **FORWARD_TOL)
    _train_both(keras, keras_model, ember_model, x, rng.normal(size=(16, 3)).astype("float32"))


def _np_attention(q, v, k, scale, q_mask, v_mask, causal):
    """Keras's Attention (dot scores) in float64."""
    scores = np.einsum("bqd,bvd->bqv", q, k) * scale
    off = np.zeros(scores.shape, bool)
    if v_mask is not None:
        off |= ~v_mask[:, None, :]
    if causal:
        off |= np.triu(np.ones(scores.shape[1:], bool), 1)[None]
    scores = np.where(off, (scores.astype(np.float32) - np.float32(1e9)).astype(np.float64),
                      scores)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = weights @ v
    if q_mask is not None:
        out = out * q_mask[..., None]
    return out, weights


def test_attention_on_arrays_with_masks_matches_float64_numpy(rng):
    q = rng.normal(size=(3, TQ, DIM)).astype("float32")
    v = rng.normal(size=(3, TQ, DIM)).astype("float32")
    k = rng.normal(size=(3, TQ, DIM)).astype("float32")
    q_mask = rng.random((3, TQ)) > 0.3
    v_mask = rng.random((3, TQ)) > 0.3
    v_mask[:, 0] = True
    layer = ember.layers.Attention(use_scale=True)
    layer.build([(None, TQ, DIM)] * 3)
    layer.scale.assign(np.float32(0.7))
    out, weights = layer([q, v, k], mask=[q_mask, v_mask], use_causal_mask=True,
                         return_attention_scores=True)
    want_out, want_weights = _np_attention(q.astype(np.float64), v.astype(np.float64),
                                           k.astype(np.float64), np.float64(np.float32(0.7)),
                                           q_mask, v_mask, True)
    np.testing.assert_allclose(weights, want_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, want_out, rtol=1e-5, atol=1e-5)


def test_attention_gradients_match_float64_numpy(rng):
    """One SGD step on sum(out * r) moves the query projection's kernel as float64 NumPy's
    chain rule through the matmuls and the masked softmax says."""
    q_in, v_in = ember.Input((TQ, DIM)), ember.Input((TV, DIM))
    proj = ember.layers.Dense(DIM, use_bias=False, name="q_proj")
    out = ember.layers.Attention(name="att")([proj(q_in), v_in], use_causal_mask=True)
    model = ember.Model([q_in, v_in], ember.layers.Flatten()(out))
    _randomize(model, rng)
    q, v = _attention_data(rng, 4, TQ)
    r = rng.normal(size=(4, TQ * DIM)).astype("float32")
    w = proj.kernel.numpy().astype(np.float64)

    def loss(y_true, y_pred):
        return ember.ops.sum(ember.ops.multiply(y_pred, y_true), axis=-1)

    model.compile(optimizer=ember.optimizers.SGD(learning_rate=1.0), loss=loss)
    model.train_on_batch([q, v], r)
    q64, v64 = q.astype(np.float64), v.astype(np.float64)
    h = q64 @ w
    _, a = _np_attention(h, v64, v64, 1.0, None, None, True)
    g = r.reshape(4, TQ, DIM).astype(np.float64) / 4       # d loss / d out
    da = g @ v64.transpose(0, 2, 1)                        # d loss / d weights
    ds = a * (da - (da * a).sum(-1, keepdims=True))        # through the softmax
    dh = ds @ v64                                          # scores = h @ v^T
    dw = np.einsum("bti,btj->ij", q64, dh)
    np.testing.assert_allclose(proj.kernel.numpy(), w - dw, rtol=1e-5, atol=1e-5)


def test_attention_files_keep_the_call_arguments_both_ways(keras, rng, tmp_path):
    """use_causal_mask is an argument of the call, saved in the model's config. (Keras 3.15
    cannot read its own legacy .h5 file of an Attention layer - it turns score_mode "dot"
    into its `dot` function - so the .h5 files hold AdditiveAttention.)"""
    x = _attention_data(rng, 5)
    _files_both_ways(keras, rng, tmp_path, lambda lib: _attention_model(lib, ["dot_causal"]), x,
                     (".keras",))
    _files_both_ways(keras, rng, tmp_path,
                     lambda lib: _attention_model(lib, ["additive_causal"]), x)


def test_attention_config_matches_keras(keras):
    for make in (lambda lib: lib.layers.Attention(use_scale=True, score_mode="concat",
                                                  dropout=0.25, seed=3, name="a"),
                 lambda lib: lib.layers.AdditiveAttention(use_scale=False, dropout=0.5,
                                                          name="a")):
        keras_config, ember_config = make(keras).get_config(), make(ember).get_config()
        keras_config.pop("dtype")
        ember_config.pop("dtype")
        assert ember_config == keras_config


def test_attention_dropout_is_active_in_training_only(rng):
    q_in, v_in = ember.Input((TQ, DIM)), ember.Input((TV, DIM))
    out = ember.layers.Attention(dropout=0.5, seed=1)([q_in, v_in])
    model = ember.Model([q_in, v_in], ember.layers.Flatten()(out))
    x = _attention_data(rng, 64, TQ)
    plain = ember.layers.Attention()(x)
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.reshape(64, -1),
                               rtol=1e-6, atol=1e-6)
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=0.0), loss="mse")
    trained_loss = model.evaluate(x, plain.reshape(64, -1), verbose=0)
    assert trained_loss < 1e-10  # evaluate runs in inference mode too
    history = model.fit(x, plain.reshape(64, -1), batch_size=64, epochs=1, verbose=0)
    assert history.history["loss"][0] > 1e-3  # dropout changed the outputs in training


@pytest.mark.parametrize(("make", "inputs", "error", "match"), [
    (lambda: ember.layers.Attention(score_mode="cosine"), None, ValueError, "score_mode"),
    (lambda: ember.layers.Attention(dropout=1.5), None, ValueError, "dropout"),
    (ember.layers.Attention, "one", ValueError, "list of inputs"),
    (ember.layers.Attention, [(TQ, DIM)] * 4, ValueError, "length 2 or 3"),
    (ember.layers.Attention, [(TQ, DIM), (TV, DIM + 1)], ValueError, "last dimension"),
    (ember.layers.Attention, [(TQ, DIM), (TV, DIM), (TV + 1, DIM)], ValueError,
     "same number of steps"),
    (ember.layers.AdditiveAttention, [(DIM,), (DIM,)], ValueError, "steps, dim"),
])
def test_attention_bad_arguments_raise_clearly(make, inputs, error, match):
    with pytest.raises(error, match=match):
        layer = make()
        if inputs == "one":
            layer(ember.Input((TQ, DIM)))
        elif inputs is not None:
            layer([ember.Input(s) for s in inputs])


def test_attention_symbolic_explicit_mask_is_refused_clearly():
    q, v = ember.Input((TQ, DIM)), ember.Input((TV, DIM))
    m = ember.Input((TV,))
    with pytest.raises(NotImplementedError, match="explicit symbolic `mask`"):
        ember.layers.Attention()([q, v], mask=[None, m])


# ---- ReversibleEmbedding ----------------------------------------------------------------

VOCAB, EMB, STEPS = 11, 6, 4


def _reversible_model(lib, tie_weights, cap):
    ids = lib.Input((STEPS,), dtype="int32")
    layer = lib.layers.ReversibleEmbedding(VOCAB, EMB, tie_weights=tie_weights,
                                           logit_soft_cap=cap, name="emb")
    x = layer(ids)
    x = lib.layers.Dense(EMB, activation="tanh", name="middle")(x)
    return lib.Model(ids, layer(x, reverse=True))


@pytest.mark.parametrize(("tie_weights", "cap"), [(True, 1.5), (False, None)])
def test_reversible_embedding_matches_keras_and_trains_alike(keras, rng, tie_weights, cap):
    keras_model = _reversible_model(keras, tie_weights, cap)
    ember_model = _reversible_model(ember, tie_weights, cap)
    _same_weights(keras_model, ember_model, rng)
    ids = rng.integers(0, VOCAB, size=(32, STEPS)).astype("int32")
    np.testing.assert_allclose(ember_model.predict(ids, verbose=0),
                               keras_model.predict(ids, verbose=0), **FORWARD_TOL)
    targets = rng.integers(0, VOCAB, size=(32, STEPS)).astype("int32")
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ember_loss = ember.losses.SparseCategoricalCrossentropy(from_logits=True)
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=keras_loss)
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss=ember_loss)
    keras_model.fit(ids, targets, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ember_model.fit(ids, targets, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _assert_same_weights(keras_model, ember_model)


def test_reversible_embedding_on_arrays_matches_float64_numpy(rng):
    layer = ember.layers.ReversibleEmbedding(VOCAB, EMB, logit_soft_cap=2.0)
    ids = rng.integers(0, VOCAB, size=(3, STEPS))
    rows = layer(ids)
    table = layer.embeddings.numpy().astype(np.float64)
    np.testing.assert_array_equal(rows, table[ids].astype(np.float32))
    x = rng.normal(size=(3, STEPS, EMB)).astype("float32")
    want = np.tanh(x.astype(np.float64) @ table.T / 2.0) * 2.0
    np.testing.assert_allclose(layer(x, reverse=True), want, rtol=1e-5, atol=1e-6)


def test_reversible_embedding_files_and_config_both_ways(keras, rng, tmp_path):
    ids = rng.integers(0, VOCAB, size=(5, STEPS)).astype("int32")
    _files_both_ways(keras, rng, tmp_path, lambda lib: _reversible_model(lib, False, 3.0), ids)
    configs = [lib.layers.ReversibleEmbedding(VOCAB, EMB, tie_weights=False, logit_soft_cap=3.0,
                                              name="r").get_config() for lib in (keras, ember)]
    for config in configs:
        config.pop("dtype")
    assert configs[1] == configs[0]


def test_reversible_embedding_bad_arguments_raise_clearly():
    with pytest.raises(NotImplementedError, match="reverse_dtype"):
        ember.layers.ReversibleEmbedding(VOCAB, EMB, reverse_dtype="float16")
    with pytest.raises(ValueError, match="logit_soft_cap"):
        ember.layers.ReversibleEmbedding(VOCAB, EMB, logit_soft_cap=-1.0)
    layer = ember.layers.ReversibleEmbedding(VOCAB, EMB)
    with pytest.raises(ValueError, match="output_dim=6"):
        layer(ember.Input((STEPS, EMB + 1)), reverse=True)


# ---- Wrapper ----------------------------------------------------------------------------

def _doubled(lib):
    """A user's wrapper, written against each library's base class."""
    class Doubled(lib.layers.Wrapper):
        def call(self, inputs):
            return self.layer(inputs) * 2.0

    return Doubled


def _wrapped_model(lib, doubled):
    inputs = lib.Input((5,))
    x = doubled(lib.layers.Dense(4, activation="tanh", name="inner"), name="wrap")(inputs)
    return lib.Model(inputs, lib.layers.Dense(3, name="head")(x))


def test_a_wrapper_subclass_matches_keras_and_moves_through_files(keras, rng, tmp_path):
    keras_doubled, ember_doubled = _doubled(keras), _doubled(ember)
    keras_model = _wrapped_model(keras, keras_doubled)
    ember_model = _wrapped_model(ember, ember_doubled)
    _randomize(keras_model, rng)
    assert [tuple(w.shape) for w in keras_model.weights] == [w.shape for w in ember_model.weights]
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(6, 5)).astype("float32")
    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), **FORWARD_TOL)
    config = ember_model.get_layer("wrap").get_config()
    assert config["layer"]["config"]["name"] == "inner"
    rebuilt = ember_doubled.from_config(config)
    assert type(rebuilt.layer) is ember.layers.Dense and rebuilt.layer.units == 4

    keras_model.save(tmp_path / "k.keras")
    loaded = ember.saving.load_model(tmp_path / "k.keras",
                                     custom_objects={"Doubled": ember_doubled})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               **FORWARD_TOL)
    ember_model.save(tmp_path / "e.keras")
    loaded = keras.saving.load_model(tmp_path / "e.keras",
                                     custom_objects={"Doubled": keras_doubled})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ember_model.predict(x, verbose=0),
                               **FORWARD_TOL)


def test_wrapper_refuses_what_is_not_a_layer():
    with pytest.raises(ValueError, match="isn't a supported layer type"):
        ember.layers.Wrapper("dense")


# ---- SpectralNormalization --------------------------------------------------------------

def _spectral_model(lib, power_iterations):
    inputs = lib.Input((5,))
    x = lib.layers.SpectralNormalization(lib.layers.Dense(4, activation="tanh", name="inner"),
                                         power_iterations=power_iterations, name="sn")(inputs)
    return lib.Model(inputs, lib.layers.Dense(3, name="head")(x))


@pytest.mark.parametrize("power_iterations", [1, 3])
def test_spectral_normalization_trains_as_keras_jax(keras, rng, power_iterations):
    """Each training step divides the kernel by sigma (gradient through sigma), keeps the new
    vector_u and leaves the stored kernel unscaled; inference uses the kernel as stored."""
    keras_model = _spectral_model(keras, power_iterations)
    ember_model = _spectral_model(ember, power_iterations)
    _randomize(keras_model, rng)
    assert [tuple(w.shape) for w in keras_model.weights] == [w.shape for w in ember_model.weights]
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(32, 5)).astype("float32")
    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), **FORWARD_TOL)
    y = rng.normal(size=(32, 3)).astype("float32")
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    ember_model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01), loss="mse")
    keras_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ember_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for e, k, w in zip(ember_model.get_weights(), keras_model.get_weights(),
                       keras_model.weights, strict=True):
        assert_weights_close(e, k, rtol=1e-4, atol=1e-5, err_msg=w.path)
    np.testing.assert_allclose(ember_model.predict(x, verbose=0),
                               keras_model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_spectral_normalization_step_matches_float64_numpy(rng):
    """A training step's output is the layer's with the kernel divided by sigma from Keras's
    power iteration (run here in float64 from the same vector_u), vector_u becomes the new u
    and the stored kernel is left as it was."""
    inputs = ember.Input((5,))
    sn = ember.layers.SpectralNormalization(ember.layers.Dense(4, use_bias=False),
                                            power_iterations=2)
    model = ember.Model(inputs, sn(inputs))
    _randomize(model, rng)
    x = rng.normal(size=(8, 5)).astype("float32")
    kernel = sn.layer.kernel.numpy().astype(np.float64)
    u = sn.vector_u.numpy().astype(np.float64)
    for _ in range(2):
        v = u @ kernel.T
        v /= np.linalg.norm(v)
        u = v @ kernel
        u /= np.linalg.norm(u)
    sigma = (v @ kernel @ u.T).item()
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=0.0), loss="mse")
    history = model.fit(x, np.zeros((8, 4), "float32"), batch_size=8, epochs=1, verbose=0)
    want = np.mean((x.astype(np.float64) @ kernel / sigma) ** 2)
    np.testing.assert_allclose(history.history["loss"][0], want, rtol=1e-5)
    np.testing.assert_allclose(sn.vector_u.numpy(), u, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(sn.layer.kernel.numpy(), kernel.astype(np.float32))


def test_spectral_normalization_files_and_config_both_ways(keras, rng, tmp_path):
    x = rng.normal(size=(5, 5)).astype("float32")
    _files_both_ways(keras, rng, tmp_path, lambda lib: _spectral_model(lib, 2), x, (".keras",))
    configs = [lib.layers.SpectralNormalization(lib.layers.Dense(4, name="d"), power_iterations=2,
                                                name="s").get_config() for lib in (keras, ember)]
    for config in configs:
        config.pop("dtype")
        config["layer"]["config"].pop("dtype")
    assert configs[1] == configs[0]


def test_spectral_normalization_bad_arguments_raise_clearly():
    with pytest.raises(ValueError, match="power_iterations"):
        ember.layers.SpectralNormalization(ember.layers.Dense(2), power_iterations=0)
    with pytest.raises(NotImplementedError, match="Dense layers only"):
        ember.layers.SpectralNormalization(ember.layers.Embedding(5, 2))
