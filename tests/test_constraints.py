"""Weight constraints: each against a float64 NumPy reference, as the engine applies them
after every optimizer update (trained weights equal Keras's), and in configs and files."""

import ember
import numpy as np
import pytest
from ember import constraints
from parity import assert_weights_close

EPS = 1e-7


# -- float64 references (keras/src/constraints/constraints.py) ------------------------
def _norms(w, axis):
    axis = tuple(axis) if isinstance(axis, list) else axis
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def ref_max_norm(w, max_value, axis):
    n = _norms(w, axis)
    return w * (np.clip(n, 0, max_value) / (EPS + n))


def ref_min_max_norm(w, min_value, max_value, rate, axis):
    n = _norms(w, axis)
    return w * ((rate * np.clip(n, min_value, max_value) + (1 - rate) * n) / (EPS + n))


def ref_non_neg(w):
    return np.maximum(w, 0.0)


def ref_unit_norm(w, axis):
    return w / (EPS + _norms(w, axis))


CASES = [
    ("max_norm", lambda: constraints.MaxNorm(0.7, axis=0),
     lambda w: ref_max_norm(w, 0.7, 0)),
    ("max_norm_axis_none", lambda: constraints.MaxNorm(1.5, axis=None),
     lambda w: ref_max_norm(w, 1.5, None)),
    ("max_norm_conv_axes", lambda: constraints.MaxNorm(0.9, axis=[0, 1, 2]),
     lambda w: ref_max_norm(w, 0.9, [0, 1, 2])),
    ("min_max_norm", lambda: constraints.MinMaxNorm(0.8, 1.1, rate=0.6, axis=0),
     lambda w: ref_min_max_norm(w, 0.8, 1.1, 0.6, 0)),
    ("min_max_norm_last_axis", lambda: constraints.MinMaxNorm(0.5, 0.6, axis=-1),
     lambda w: ref_min_max_norm(w, 0.5, 0.6, 1.0, -1)),
    ("non_neg", lambda: constraints.NonNeg(), ref_non_neg),
    ("unit_norm", lambda: constraints.UnitNorm(axis=0), lambda w: ref_unit_norm(w, 0)),
    ("unit_norm_axis_1", lambda: constraints.UnitNorm(axis=1), lambda w: ref_unit_norm(w, 1)),
]


@pytest.mark.parametrize("name, make, ref", CASES, ids=[c[0] for c in CASES])
def test_constraint_call_matches_float64_reference(name, make, ref, rng):
    shape = (3, 3, 4, 5) if "conv" in name else (6, 5)
    w = rng.normal(0, 1, shape).astype(np.float32)
    out = make()(w)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref(w.astype(np.float64)), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name, make, ref", CASES, ids=[c[0] for c in CASES])
def test_engine_applies_the_constraint_after_the_update(name, make, ref, rng):
    # SGD with learning rate 0: the update leaves the kernel as it is, so after one
    # step it is exactly constraint(kernel), computed by the engine's kernel.
    shape = (3, 3, 4, 5) if "conv" in name else (6, 5)
    w = rng.normal(0, 1, shape).astype(np.float32)
    if "conv" in name:
        layer = ember.layers.Conv2D(5, 3, kernel_constraint=make())
        inp = ember.Input((5, 5, 4))
    else:
        layer = ember.layers.Dense(5, kernel_constraint=make())
        inp = ember.Input((6,))
    model = ember.Model(inp, layer(inp))
    layer.kernel.assign(w)
    model.compile(ember.optimizers.SGD(learning_rate=0.0), "mse")
    x = rng.normal(0, 1, (4,) + inp.shape[1:]).astype(np.float32)
    y = rng.normal(0, 1, (4,) + model.outputs[0].shape[1:]).astype(np.float32)
    model.train_on_batch(x, y)
    np.testing.assert_allclose(layer.kernel.numpy(), ref(w.astype(np.float64)), rtol=2e-6,
                               atol=1e-7)


@pytest.mark.parametrize("name, make, ref", CASES, ids=[c[0] for c in CASES])
def test_constraint_call_matches_keras(name, make, ref, keras, rng):
    shape = (3, 3, 4, 5) if "conv" in name else (6, 5)
    w = rng.normal(0, 1, shape).astype(np.float32)
    ours = make()
    theirs = getattr(keras.constraints, type(ours).__name__).from_config(ours.get_config())
    np.testing.assert_allclose(ours(w), np.asarray(theirs(w)), rtol=2e-6, atol=1e-7)


def _mlp(K, rng_weights, **constraint_args):
    inp = K.Input((6,))
    h = K.layers.Dense(5, activation="tanh", **constraint_args)(inp)
    out = K.layers.Dense(2, **constraint_args)(h)
    model = K.Model(inp, out)
    model.set_weights(rng_weights)
    return model


KERAS_CASES = [
    ("MaxNorm", {"max_value": 0.6, "axis": 0}),
    ("MinMaxNorm", {"min_value": 0.4, "max_value": 0.7, "rate": 0.5, "axis": 0}),
    ("NonNeg", {}),
    ("UnitNorm", {"axis": 0}),
]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("cls, config", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_two_epochs_with_constraints_match_keras(cls, config, optimizer, keras, rng):
    weights = [rng.normal(0, 0.5, s).astype(np.float32) for s in [(6, 5), (5,), (5, 2), (2,)]]
    x = rng.normal(0, 1, (40, 6)).astype(np.float32)
    y = rng.normal(0, 1, (40, 2)).astype(np.float32)
    trained = []
    for K in (ember, keras):
        make = getattr(K.constraints, cls)
        model = _mlp(K, weights, kernel_constraint=make(**config),
                     bias_constraint=make(**config) if cls == "NonNeg" else None)
        opt = (K.optimizers.SGD(learning_rate=0.05) if optimizer == "sgd"
               else K.optimizers.Adam(learning_rate=0.01))
        model.compile(opt, "mse")
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        trained.append(model.get_weights())
    for ours, theirs in zip(*trained):
        assert_weights_close(ours, theirs, err_msg=f"{cls} {optimizer}")


def test_constraints_of_other_weighted_layers_match_keras(keras, rng):
    # Conv2D (a filter's norm over [0, 1, 2]), Embedding, an LSTM's three weights and
    # BatchNormalization's gamma/beta: each honoured after every update, as in Keras.
    def build(K):
        C = K.constraints
        img = K.Input((6, 6, 2))
        c = K.layers.Conv2D(3, 3, activation="tanh", name="conv",
                            kernel_constraint=C.MaxNorm(0.5, axis=[0, 1, 2]),
                            bias_constraint=C.NonNeg())(img)
        c = K.layers.Flatten(name="flat")(c)
        ids = K.Input((4,), dtype="int32")
        e = K.layers.Embedding(7, 3, name="emb", embeddings_constraint=C.UnitNorm(axis=1))(ids)
        r = K.layers.LSTM(4, name="lstm", kernel_constraint=C.MaxNorm(0.4),
                          recurrent_constraint=C.UnitNorm(), bias_constraint=C.NonNeg())(e)
        r = K.layers.BatchNormalization(name="bn", gamma_constraint=C.MinMaxNorm(0.9, 1.0),
                                        beta_constraint=C.NonNeg())(r)
        out = K.layers.Dense(2, name="out")(K.layers.Concatenate(name="cat")([c, r]))
        return K.Model([img, ids], out)

    reference = build(keras)
    # By layer name: Keras orders a two-input model's weights differently.
    weights = {layer.name: [rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                            if "variance" in w.path
                            else rng.normal(0, 0.4, w.shape).astype(np.float32)
                            for w in layer.weights] for layer in reference.layers
               if layer.weights}
    x = [rng.normal(0, 1, (24, 6, 6, 2)).astype(np.float32),
         rng.integers(0, 7, (24, 4)).astype(np.int32)]
    y = rng.normal(0, 1, (24, 2)).astype(np.float32)
    trained = []
    for K, model in ((ember, build(ember)), (keras, reference)):
        for name, values in weights.items():
            model.get_layer(name).set_weights(values)
        model.compile(K.optimizers.Adam(learning_rate=0.01), "mse")
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        trained.append({name: model.get_layer(name).get_weights() for name in weights})
    for name in weights:
        for i, (ours, theirs) in enumerate(zip(trained[0][name], trained[1][name])):
            assert_weights_close(ours, theirs, err_msg=f"{name} weight {i}")


class ClipTo(constraints.Constraint):
    """A user's constraint: only Python knows its math."""

    def __init__(self, limit):
        self.limit = limit

    def __call__(self, w):
        return np.clip(w, -self.limit, self.limit)

    def get_config(self):
        return {"limit": self.limit}


def test_a_custom_constraint_is_applied_after_each_batch_like_keras(keras, rng):
    class KerasClipTo(keras.constraints.Constraint):
        def __call__(self, w):
            return keras.ops.clip(w, -0.3, 0.3)

    weights = [rng.normal(0, 0.5, s).astype(np.float32) for s in [(6, 5), (5,), (5, 2), (2,)]]
    x = rng.normal(0, 1, (40, 6)).astype(np.float32)
    y = rng.normal(0, 1, (40, 2)).astype(np.float32)
    trained = []
    for K, c in ((ember, ClipTo(0.3)), (keras, KerasClipTo())):
        model = _mlp(K, weights, kernel_constraint=c)
        model.compile(K.optimizers.SGD(learning_rate=0.1), "mse")
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        trained.append(model.get_weights())
    for ours, theirs in zip(*trained):
        assert_weights_close(ours, theirs)
    assert np.abs(trained[0][0]).max() <= 0.3


def test_optimizer_apply_honours_constraints(rng):
    layer = ember.layers.Dense(4, kernel_constraint="non_neg")
    layer.build((None, 3))
    w = rng.normal(0, 1, (3, 4)).astype(np.float32)
    layer.kernel.assign(w)
    g = rng.normal(0, 1, (3, 4)).astype(np.float32)
    opt = ember.optimizers.SGD(learning_rate=0.1)
    opt.apply([g, np.zeros(4, np.float32)], [layer.kernel, layer.bias])
    np.testing.assert_allclose(layer.kernel.numpy(), np.maximum(w - np.float32(0.1) * g, 0),
                               rtol=1e-6, atol=1e-7)


def test_get_serialize_deserialize_as_keras(keras):
    for name in ("max_norm", "min_max_norm", "non_neg", "unit_norm", "MaxNorm", "NonNeg"):
        assert type(constraints.get(name)).__name__ == type(keras.constraints.get(name)).__name__
    c = constraints.MinMaxNorm(0.2, 0.9, rate=0.5, axis=[0, 1])
    config = constraints.serialize(c)
    assert config == keras.constraints.serialize(keras.constraints.MinMaxNorm(0.2, 0.9, 0.5,
                                                                              [0, 1]))
    back = constraints.deserialize(config)
    assert type(back) is constraints.MinMaxNorm and back.get_config() == c.get_config()
    assert constraints.get(None) is None
    assert constraints.max_norm is constraints.MaxNorm
    with pytest.raises(ValueError, match="Could not interpret constraint"):
        constraints.get("no_such_constraint")


def test_bad_constraints_raise_clear_errors():
    with pytest.raises(ValueError, match="max_value"):
        constraints.MaxNorm(-1.0)
    with pytest.raises(ValueError, match="rate"):
        constraints.MinMaxNorm(rate=1.5)
    with pytest.raises(TypeError, match="axis"):
        constraints.UnitNorm(axis="0")
    layer = ember.layers.Conv2D(2, 3, kernel_constraint=constraints.MaxNorm(axis=[0, 2]))
    with pytest.raises(ValueError, match="adjacent"):
        layer(ember.Input((5, 5, 3)))
    layer = ember.layers.Dense(2, kernel_constraint=constraints.UnitNorm(axis=2))
    with pytest.raises(ValueError, match="out of range"):
        layer(ember.Input((3,)))


@pytest.mark.parametrize("direction", ["ember_to_keras", "keras_to_ember"])
def test_constraints_travel_in_keras_files(direction, keras, rng, tmp_path):
    libs = (ember, keras) if direction == "ember_to_keras" else (keras, ember)
    K = libs[0]
    inp = K.Input((4,))
    out = K.layers.Dense(3, kernel_constraint=K.constraints.MaxNorm(1.2, axis=0),
                         bias_constraint=K.constraints.NonNeg())(inp)
    model = K.Model(inp, out)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = libs[1].models.load_model(path)
    dense = loaded.layers[-1]
    assert type(dense.kernel_constraint).__name__ == "MaxNorm"
    assert dense.kernel_constraint.get_config() == {"max_value": 1.2, "axis": 0}
    assert type(dense.bias_constraint).__name__ == "NonNeg"
    x = rng.normal(0, 1, (5, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-6, atol=1e-6)
