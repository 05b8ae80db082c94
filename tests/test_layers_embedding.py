"""Embedding, integer inputs, masks (Embedding(mask_zero), Masking, the loss and metrics
they weight) and TimeDistributed: against Keras 3 from the same weights, and files both
ways (issue 11)."""

import json

import ember
import numpy as np
import pytest
from ember import _core
from parity import assert_weights_close


def ids(rng, shape, vocab, zeros=0.0):
    """Token ids in [1, vocab), with about a `zeros` fraction of padding zeros."""
    x = rng.integers(1, vocab, size=shape)
    x[rng.random(shape) < zeros] = 0
    return x.astype("int32")


def same_weights(keras_model, ember_model, rng, scale=0.5):
    keras_model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32")
                             for w in keras_model.get_weights()])
    ember_model.set_weights(keras_model.get_weights())


def train_both_and_compare(keras, keras_model, ember_model, x, y, batch_size):
    """Two epochs of Adam on binary crossentropy in Keras and ember from the same weights and
    batches: the losses and the trained weights must agree."""
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile(optimizer=lib.optimizers.Adam(learning_rate=0.01),
                      loss="binary_crossentropy")
    kh = keras_model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    eh = ember_model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)

    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=1e-5)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights()):
        assert_weights_close(e, k, rtol=1e-4, atol=1e-5, err_msg="weights after training")


# -- Embedding and integer inputs -------------------------------------------------------------
def test_embedding_looks_up_rows_of_its_table(rng):
    layer = ember.layers.Embedding(7, 3)
    x = ids(rng, (4, 5), 7, zeros=0.2)

    out = layer(x)

    assert layer.embeddings.shape == (7, 3) and layer.embeddings.path == f"{layer.name}/embeddings"
    np.testing.assert_array_equal(out, layer.embeddings.numpy()[x])


def test_embedding_training_matches_keras(keras, rng):
    def build(lib):
        inp = lib.Input((6,), dtype="int32")
        h = lib.layers.Embedding(20, 4)(inp)
        h = lib.layers.Flatten()(h)
        return lib.Model(inp, lib.layers.Dense(1, activation="sigmoid")(h))

    keras_model, ember_model = build(keras), build(ember)
    same_weights(keras_model, ember_model, rng)
    x = ids(rng, (64, 6), 20, zeros=0.1)
    y = rng.integers(0, 2, size=(64, 1)).astype("float32")
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile(optimizer=lib.optimizers.Adam(learning_rate=0.01),
                      loss="binary_crossentropy", metrics=["accuracy"])
    kh = keras_model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    eh = ember_model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=1e-5)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights()):
        assert_weights_close(e, k, rtol=1e-4, atol=1e-5, err_msg="weights after training")


def test_int_input_ids_past_2_to_the_24_reach_the_table_exactly():
    # A float32 round trip would turn 2**24 + 1 into 2**24 and 2**24 + 3 into 2**24 + 4.
    vocab = 2**24 + 4
    layer = ember.layers.Embedding(vocab, 1, embeddings_initializer="zeros")
    model = ember.Sequential([ember.Input((2,), dtype="int32"), layer])
    table = np.zeros((vocab, 1), np.float32)
    table[-4:, 0] = [10.0, 11.0, 12.0, 13.0]
    layer.set_weights([table])
    x = np.array([[2**24 + 1, 2**24 + 3], [2**24, 2**24 + 2]], np.int64)

    np.testing.assert_array_equal(model.predict(x, verbose=0)[..., 0], [[11, 13], [10, 12]])
    np.testing.assert_array_equal(layer(x)[..., 0], [[11, 13], [10, 12]])


@pytest.mark.parametrize("bad, where", [(9, "(1, 2)"), (-1, "(1, 2)")])
def test_a_bad_token_id_raises_naming_it_and_its_position(bad, where):
    model = ember.Sequential([ember.Input((3,), dtype="int32"), ember.layers.Embedding(9, 2)])
    x = np.array([[1, 2, 3], [4, 5, bad]])

    with pytest.raises(ValueError, match=rf"token id {bad} at position \(1, 2\).*input_dim=9"):
        model.predict(x, verbose=0)


def test_float_ids_are_truncated_like_keras_and_float_data_for_int_inputs_must_be_whole(keras,
                                                                                       rng):
    x = rng.integers(0, 9, size=(5, 3)).astype("float32")
    keras_layer = keras.layers.Embedding(9, 2)
    expected = np.asarray(keras_layer(x + 0.25))
    layer = ember.layers.Embedding(9, 2, weights=keras_layer.get_weights())
    float_model = ember.Sequential([ember.Input((3,)), layer])
    int_model = ember.Sequential([ember.Input((3,), dtype="int64"), layer])

    np.testing.assert_array_equal(float_model.predict(x + 0.25, verbose=0), expected)
    np.testing.assert_array_equal(int_model.predict(x, verbose=0), expected)  # whole floats
    with pytest.raises(ValueError, match="not a whole number"):
        int_model.predict(x + 0.5, verbose=0)
    with pytest.raises(ValueError, match="outside int32's range"):
        int_model.predict(np.full((1, 3), 2**40), verbose=0)


def test_input_dtype_is_in_the_config_and_only_ids_layers_read_int_bits(rng):
    inp = ember.Input((4,), dtype="int32")
    model = ember.Model(inp, ember.layers.Dense(2)(inp))  # Dense gets the ids cast to floats
    x = ids(rng, (3, 4), 50)

    assert model.get_config()["layers"][0]["config"]["dtype"] == "int32"
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ kernel + bias, rtol=1e-5)


# -- masks ----------------------------------------------------------------------------------
def test_masks_pass_through_the_layers_keras_passes_them_through(rng):
    inp = ember.Input((5,), dtype="int32")
    e = ember.layers.Embedding(10, 4, mask_zero=True)(inp)
    h = ember.layers.Dense(3)(e)
    h = ember.layers.Dropout(0.5)(ember.layers.Activation("relu")(h))
    h = ember.layers.LayerNormalization()(h)
    flat = ember.layers.Flatten()(h)
    unmasked = ember.layers.Embedding(10, 4)(inp)

    for t in (e, h):
        assert t._keras_mask is not None and t._keras_mask.shape == (None, 5)
    assert flat._keras_mask is None and unmasked._keras_mask is None
    x = ids(rng, (2, 5), 10, zeros=0.4)
    np.testing.assert_array_equal(e._call.layer.compute_mask(x), x != 0)


def test_masked_sequence_loss_and_metrics_match_keras(keras, rng):
    def build(lib):
        inp = lib.Input((7,), dtype="int32")
        h = lib.layers.Embedding(12, 5, mask_zero=True)(inp)
        h = lib.layers.Dense(6, activation="tanh")(h)
        return lib.Model(inp, lib.layers.Dense(4, activation="softmax")(h))

    keras_model, ember_model = build(keras), build(ember)
    same_weights(keras_model, ember_model, rng)
    x = ids(rng, (48, 7), 12, zeros=0.35)
    y = rng.integers(0, 4, size=(48, 7))
    sw = rng.uniform(0.5, 2.0, size=48).astype("float32")
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    # Keras takes a masked sequence's sample weights per step, (n, T) (its (n,) ones do not
    # broadcast against the mask); ember spreads (n,) weights over the steps.
    sw_steps = np.repeat(sw[:, None], 7, axis=1)
    # The padded steps change nothing when the mask weights them out.
    kr = keras_model.evaluate(x, y, sample_weight=sw_steps, batch_size=16, verbose=0)
    er = ember_model.evaluate(x, y, sample_weight=sw, batch_size=16, verbose=0)
    np.testing.assert_allclose(er, kr, rtol=2e-5)
    y_other = np.where(x == 0, (y + 1) % 4, y)
    np.testing.assert_allclose(ember_model.evaluate(x, y_other, sample_weight=sw, batch_size=16,
                                                    verbose=0), er, rtol=1e-6)

    kh = keras_model.fit(x, y, sample_weight=sw_steps, batch_size=16, epochs=2, shuffle=False,
                         verbose=0)
    eh = ember_model.fit(x, y, sample_weight=sw, batch_size=16, epochs=2, shuffle=False,
                         verbose=0)
    # Only the loss: Keras-jax's fit computes its metrics on predictions whose mask was lost
    # across jax's gradient transform (its evaluate, and fit on other backends, mask them).
    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=2e-5)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights()):
        assert_weights_close(e, k, rtol=1e-4, atol=1e-5, err_msg="weights after training")
    np.testing.assert_allclose(ember_model.evaluate(x, y, batch_size=16, verbose=0),
                               keras_model.evaluate(x, y, batch_size=16, verbose=0), rtol=1e-4)


def test_merges_combine_masks_as_keras_does(keras, rng):
    def build(lib):
        a, b = lib.Input((4,), dtype="int32"), lib.Input((4,), dtype="int32")
        ea = lib.layers.Embedding(9, 3, mask_zero=True, name="ea")(a)
        eb = lib.layers.Embedding(9, 3, mask_zero=True, name="eb")(b)
        steps = lib.layers.Concatenate(axis=1)([ea, lib.layers.Embedding(9, 3, name="ec")(b)])
        both = lib.layers.Add()([ea, eb])
        out_steps = lib.layers.Dense(2, activation="softmax", name="steps")(steps)
        out_both = lib.layers.Dense(2, activation="softmax", name="both")(both)
        return lib.Model([a, b], [out_steps, out_both])

    keras_model, ember_model = build(keras), build(ember)
    for name in ("ea", "eb", "ec", "steps", "both"):
        values = [rng.normal(scale=0.5, size=w.shape).astype("float32")
                  for w in keras_model.get_layer(name).get_weights()]
        keras_model.get_layer(name).set_weights(values)
        ember_model.get_layer(name).set_weights(values)
    x = [ids(rng, (24, 4), 9, zeros=0.4), ids(rng, (24, 4), 9, zeros=0.4)]
    y = [rng.integers(0, 2, size=(24, 8)), rng.integers(0, 2, size=(24, 4))]
    for model in (keras_model, ember_model):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")

    assert ember_model.outputs[0]._keras_mask.shape == (None, 8)
    np.testing.assert_allclose(ember_model.evaluate(x, y, batch_size=8, verbose=0),
                               keras_model.evaluate(x, y, batch_size=8, verbose=0), rtol=2e-5)


def test_masking_matches_keras_in_outputs_and_in_the_masked_loss(keras, rng):
    def build(lib):
        inp = lib.Input((6, 3))
        h = lib.layers.Masking(mask_value=0.5)(inp)
        return lib.Model(inp, lib.layers.Dense(2)(h))

    keras_model, ember_model = build(keras), build(ember)
    same_weights(keras_model, ember_model, rng)
    x = rng.normal(size=(20, 6, 3)).astype("float32")
    x[rng.random((20, 6)) < 0.4] = 0.5  # whole steps equal to mask_value
    x[0, 0, 0] = 0.5  # one feature alone is not a masked step
    y = rng.normal(size=(20, 6, 2)).astype("float32")
    for model in (keras_model, ember_model):
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])

    np.testing.assert_allclose(ember_model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ember_model.evaluate(x, y, batch_size=8, verbose=0),
                               keras_model.evaluate(x, y, batch_size=8, verbose=0), rtol=2e-5)
    np.testing.assert_array_equal(ember.layers.Masking(0.5).compute_mask(x),
                                  np.any(x != 0.5, axis=-1))


def test_a_custom_loss_on_a_masked_output_is_masked_as_keras_does(keras, rng):
    def build(lib):
        inp = lib.Input((6, 3))
        return lib.Model(inp, lib.layers.Dense(2)(lib.layers.Masking(0.0)(inp)))

    def per_step_mse(lib):
        return lambda y_true, y_pred: lib.ops.mean(lib.ops.square(y_true - y_pred), axis=-1)

    keras_model, ember_model = build(keras), build(ember)
    same_weights(keras_model, ember_model, rng)
    x = rng.normal(size=(16, 6, 3)).astype("float32")
    x[rng.random((16, 6)) < 0.4] = 0.0
    y = rng.normal(size=(16, 6, 2)).astype("float32")
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1), loss=per_step_mse(lib))

    np.testing.assert_allclose(ember_model.evaluate(x, y, batch_size=8, verbose=0),
                               keras_model.evaluate(x, y, batch_size=8, verbose=0), rtol=2e-5)
    keras_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ember_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(e, k, rtol=1e-4, atol=1e-5)


def test_masked_mean_averages_the_kept_steps_only(rng):
    graph = _core.Graph()
    x_node = graph.add_input([5, 3], "x")
    m_node = graph.add_input([5], "mask")
    config = json.dumps({"name": "gap", "data_format": "channels_last", "keepdims": False})
    (out,), _, _ = _core.build_layer(graph, "GlobalAveragePooling1D", config, [], [x_node],
                                     [m_node], [False])
    x = rng.normal(size=(4, 5, 3)).astype("float32")
    mask = (rng.random((4, 5)) < 0.6).astype("float32")
    mask[:, 0] = 1.0

    got = _core.Model(graph, [x_node, m_node], [out]).predict([x, mask], 4)[0]

    expected = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# -- TimeDistributed --------------------------------------------------------------------------
def test_time_distributed_dense_and_flatten_train_like_keras(keras, rng):
    def build(lib):
        inp = lib.Input((4, 2, 3))
        h = lib.layers.TimeDistributed(lib.layers.Flatten())(inp)
        h = lib.layers.TimeDistributed(lib.layers.Dense(5, activation="tanh"))(h)
        h = lib.layers.TimeDistributed(lib.layers.LayerNormalization())(h)
        return lib.Model(inp, lib.layers.Dense(1)(lib.layers.Flatten()(h)))

    keras_model, ember_model = build(keras), build(ember)
    same_weights(keras_model, ember_model, rng)
    x = rng.normal(size=(32, 4, 2, 3)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    assert [w.shape for w in ember_model.weights] == [w.shape for w in keras_model.weights]
    np.testing.assert_allclose(ember_model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile(optimizer=lib.optimizers.Adam(learning_rate=0.01), loss="mse")
    kh = keras_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    eh = ember_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

    np.testing.assert_allclose(eh.history["loss"], kh.history["loss"], rtol=1e-4)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights()):
        assert_weights_close(e, k, rtol=1e-4, atol=1e-5, err_msg="weights after training")


# -- files ------------------------------------------------------------------------------------
def _sequence_model(lib):
    inp = lib.Input((5,), dtype="int32")
    h = lib.layers.Embedding(11, 4, mask_zero=True)(inp)
    h = lib.layers.Masking(0.0)(h)
    return lib.Model(inp, lib.layers.TimeDistributed(lib.layers.Dense(3))(h))


@pytest.mark.parametrize("ext", [".keras", ".h5", ".weights.h5"])
def test_sequence_layers_move_between_keras_and_ember_files(keras, rng, tmp_path, ext):
    x = ids(rng, (6, 5), 11, zeros=0.3)
    for src, dst in ((keras, ember), (ember, keras)):
        model = _sequence_model(src)
        model.set_weights([rng.normal(size=w.shape).astype("float32")
                           for w in model.get_weights()])
        path = str(tmp_path / f"from_{src.__name__}{ext}")
        if ext == ".weights.h5":
            model.save_weights(path)
            loaded = _sequence_model(dst)
            loaded.load_weights(path)
        else:
            model.save(path)
            loaded = dst.models.load_model(path, compile=False)
            inp = loaded.get_config()["layers"][0]["config"]
            assert inp["dtype"] == "int32", f"{src.__name__} -> {dst.__name__}"
        np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                                   np.asarray(model.predict(x, verbose=0)), rtol=1e-6,
                                   err_msg=f"{src.__name__} -> {dst.__name__}")


@pytest.mark.parametrize("layer", [
    lambda k: k.layers.Embedding(9, 3, mask_zero=True, name="e"),
    lambda k: k.layers.Masking(mask_value=0.5, name="m"),
    lambda k: k.layers.TimeDistributed(k.layers.Dense(2, name="d"), name="td"),
    lambda k: k.layers.InputLayer(shape=(5,), dtype="int32", name="ids"),
], ids=["Embedding", "Masking", "TimeDistributed", "InputLayer int32"])
def test_sequence_layer_configs_are_keras_3s(layer, keras):
    from test_saving_interop import _normalized, _without_initializer_details

    ours = _without_initializer_details(_normalized(layer(ember).get_config()))
    theirs = _without_initializer_details(_normalized(layer(keras).get_config()))
    assert ours == theirs


@pytest.mark.parametrize("keepdims", [False, True])
def test_masked_global_average_pooling_trains_as_keras(keras, rng, keepdims):
    # Embedding(mask_zero) -> GlobalAveragePooling1D averages the kept steps only.
    def build(lib):
        inp = lib.Input((7,), dtype="int32")
        h = lib.layers.Embedding(12, 3, mask_zero=True)(inp)
        h = lib.layers.GlobalAveragePooling1D(keepdims=keepdims)(h)
        h = lib.layers.Flatten()(h) if keepdims else h
        return lib.Model(inp, lib.layers.Dense(1, activation="sigmoid")(h))

    keras_model, ember_model = build(keras), build(ember)
    same_weights(keras_model, ember_model, rng)
    x = ids(rng, (48, 7), 12, zeros=0.4)
    x[:, 0] = rng.integers(1, 12, size=48)  # every row keeps a step
    y = rng.integers(0, 2, size=(48, 1)).astype("float32")
    np.testing.assert_allclose(ember_model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    train_both_and_compare(keras, keras_model, ember_model, x, y, batch_size=16)


@pytest.mark.parametrize("kind, sequences", [("LSTM", False), ("GRU", True), ("SimpleRNN", True),
                                             ("Bidirectional", False)])
def test_embedding_mask_reaches_recurrent_layers_and_the_loss_as_in_keras(keras, rng, kind,
                                                                         sequences):
    # Padded steps (id 0) are skipped by the recurrent layer; with return_sequences the mask
    # goes on to the per-step loss.
    def build(lib):
        inp = lib.Input((6,), dtype="int32")
        h = lib.layers.Embedding(10, 4, mask_zero=True)(inp)
        if kind == "Bidirectional":
            h = lib.layers.Bidirectional(lib.layers.LSTM(3))(h)
        else:
            h = getattr(lib.layers, kind)(3, return_sequences=sequences)(h)
        return lib.Model(inp, lib.layers.Dense(1, activation="sigmoid")(h))

    keras_model, ember_model = build(keras), build(ember)
    same_weights(keras_model, ember_model, rng)
    x = ids(rng, (32, 6), 10, zeros=0.35)
    x[:, 0] = rng.integers(1, 10, size=32)
    y = rng.integers(0, 2, size=(32, 6, 1) if sequences else (32, 1)).astype("float32")
    np.testing.assert_allclose(ember_model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    train_both_and_compare(keras, keras_model, ember_model, x, y, batch_size=8)
