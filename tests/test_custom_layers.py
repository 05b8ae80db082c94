"""Custom layers written with `ember.ops` (issue 3, item 9).

The same layer body - one Python function of an `ops` module - runs once with
ember.ops inside an ember model and once with keras.ops inside a Keras 3 model;
with the same weights and batches both must give the same outputs and the same
weights after training, which checks every op's forward values and gradients
against jax's autodiff. Eager ember.ops are checked against float64 NumPy.
"""

import ember
import numpy as np
import pytest
from ember import layers, ops
from parity import assert_weights_close

IN, UNITS = 6, 8


# Each body maps (ops, x, w (IN, UNITS), b (UNITS,), s (UNITS,)) to a (batch, k) value;
# h = x @ w + b is where each starts.
def _dense_relu(o, h, b, s):
    return o.relu(h)


def _arithmetic(o, h, b, s):
    return (h * s - b) / (o.abs(h) + 1.5)


def _reflected(o, h, b, s):
    return 2.0 - h * 0.5 + 1.0 / (o.square(h) + 1.0)


def _maximum_minimum(o, h, b, s):
    return o.maximum(h, s) + o.minimum(h, 0.25)


def _power(o, h, b, s):
    return o.power(o.abs(h) + 0.5, 1.5) + o.power(1.1, h)


def _exp_log_sqrt(o, h, b, s):
    return o.exp(-o.square(h)) + o.log(o.abs(h) + 1.0) + o.sqrt(o.abs(h) + 1e-2)


def _reciprocal_sign_negative(o, h, b, s):
    return o.reciprocal(o.abs(h) + 1.0) + o.sign(h) * o.negative(h)


def _mean_center(o, h, b, s):
    return h - o.mean(h, axis=-1, keepdims=True)


def _sum_max_min(o, h, b, s):
    return o.concatenate([o.sum(h, axis=-1, keepdims=True), o.max(h, axis=1, keepdims=True),
                          o.min(h, axis=-1, keepdims=True) * s], axis=-1)


def _layer_norm_by_hand(o, h, b, s):
    centered = h - o.mean(h, axis=-1, keepdims=True)
    return centered / o.sqrt(o.var(h, axis=-1, keepdims=True) + 1e-3) * s + b


def _reshape_transpose(o, h, b, s):
    t = o.transpose(o.reshape(h, (-1, 2, UNITS // 2)), (0, 2, 1))
    return o.reshape(t, (-1, UNITS)) * s


def _slice_expand_squeeze(o, h, b, s):
    return o.squeeze(o.expand_dims(h[:, 1:6], 1), axis=1) * h[:, 0:1]


def _batched_matmul(o, h, b, s):
    left = o.reshape(h, (-1, 2, UNITS // 2))
    right = o.reshape(o.tanh(h), (-1, UNITS // 2, 2))
    return o.reshape(o.matmul(left, right), (-1, 4))


def _activations(o, h, b, s):
    return (o.sigmoid(h) + o.tanh(h) + o.softplus(h) + o.gelu(h) + o.silu(h) + o.elu(h)
            + o.leaky_relu(h) + o.softsign(h) + o.relu6(h * 4.0))


def _softmax_clip(o, h, b, s):
    return o.softmax(h, axis=-1) + o.log_softmax(h * s) + o.clip(h, -0.5, 0.5)


BODIES = {f.__name__[1:]: f for f in (
    _dense_relu, _arithmetic, _reflected, _maximum_minimum, _power, _exp_log_sqrt,
    _reciprocal_sign_negative, _mean_center, _sum_max_min, _layer_norm_by_hand,
    _reshape_transpose, _slice_expand_squeeze, _batched_matmul, _activations, _softmax_clip)}


def make_layer_class(base, o):
    class Custom(base):
        def __init__(self, body, **kwargs):
            super().__init__(**kwargs)
            self.body = body

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], UNITS), initializer="glorot_uniform",
                                     name="w")
            self.b = self.add_weight(shape=(UNITS,), initializer="zeros", name="b")
            self.s = self.add_weight(shape=(UNITS,), initializer="ones", name="s")

        def call(self, x):
            return self.body(o, o.matmul(x, self.w) + self.b, self.b, self.s)

    return Custom


def _weights(rng):
    return [rng.normal(0, 0.5, (IN, UNITS)).astype(np.float32),
            rng.normal(0, 0.3, (UNITS,)).astype(np.float32),
            rng.normal(1, 0.3, (UNITS,)).astype(np.float32)]


def _model(K, layer_cls, body, weights):
    inp = K.Input((IN,))
    out = layer_cls(body)(inp)
    model = K.Model(inp, out)
    model.layers[1].set_weights(weights)
    model.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    return model


@pytest.mark.parametrize("body", sorted(BODIES))
def test_a_custom_layer_trains_like_the_same_layer_in_keras(keras, rng, body):
    fn = BODIES[body]
    weights = _weights(rng)
    x = rng.normal(0, 1, (48, IN)).astype(np.float32)
    em = _model(ember, make_layer_class(layers.Layer, ops), fn, weights)
    km = _model(keras, make_layer_class(keras.layers.Layer, keras.ops), fn, weights)
    ey, ky = em.predict(x, verbose=0), km.predict(x, verbose=0)
    assert ey.shape == ky.shape
    np.testing.assert_allclose(ey, ky, rtol=2e-5, atol=2e-6)
    y = rng.normal(0, 1, ky.shape).astype(np.float32)
    eh = em.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    kh = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(eh, kh, rtol=2e-5)
    for e, k in zip(em.get_weights(), km.get_weights()):
        assert_weights_close(e, k, rtol=2e-5, atol=2e-6)


def test_a_custom_layer_with_sublayers_tracks_their_weights_and_trains(keras, rng):
    def make(K):
        class Block(K.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.inner = K.layers.Dense(5, activation="tanh")
                self.outer = K.layers.Dense(3)

            def call(self, x):
                return self.outer(self.inner(x)) + K.ops.mean(x, axis=-1, keepdims=True)
        return Block

    x = rng.normal(0, 1, (32, 4)).astype(np.float32)
    y = rng.normal(0, 1, (32, 3)).astype(np.float32)
    models = []
    for K in (ember, keras):
        inp = K.Input((4,))
        models.append(K.Model(inp, make(K)()(inp)))
    em, km = models
    assert len(em.layers[1].weights) == 4 and em.count_params() == km.count_params()
    em.set_weights(km.get_weights())
    for m, K in ((em, ember), (km, keras)):
        m.compile(optimizer=K.optimizers.Adam(0.01), loss="mse")
    eh = em.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    kh = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(eh, kh, rtol=3e-5)
    for e, k in zip(em.get_weights(), km.get_weights()):
        assert_weights_close(e, k, rtol=3e-5, atol=3e-6)


def test_lambda_layers_match_keras(keras, rng):
    x = rng.normal(0, 1, (20, 5)).astype(np.float32)
    fn = lambda o: (lambda t: o.square(t) * 2.0 - o.mean(t, axis=-1, keepdims=True))  # noqa: E731
    models = []
    for K in (ember, keras):
        inp = K.Input((5,))
        h = K.layers.Dense(4)(inp)
        models.append(K.Model(inp, K.layers.Lambda(fn(K.ops))(h)))
    em, km = models
    em.set_weights(km.get_weights())
    np.testing.assert_allclose(em.predict(x, verbose=0), km.predict(x, verbose=0), rtol=2e-5,
                               atol=1e-6)
    # eagerly, on an array
    lam = layers.Lambda(fn(ops))
    ref = 2.0 * x.astype(np.float64) ** 2 - x.astype(np.float64).mean(-1, keepdims=True)
    np.testing.assert_allclose(lam(x), ref, rtol=1e-5, atol=1e-6)
    assert lam.compute_output_shape((None, 5)) == (None, 5)


def test_lambda_arguments_and_declared_output_shape(rng):
    lam = layers.Lambda(lambda t, k: ops.sum(t, axis=-1, keepdims=True) * k,
                        arguments={"k": 3.0}, output_shape=(1,))
    x = rng.normal(0, 1, (7, 4)).astype(np.float32)
    np.testing.assert_allclose(lam(x), 3.0 * x.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)
    inp = ember.Input((4,))
    assert lam(inp).shape == (None, 1)


@pytest.mark.parametrize("name,args,reference", [
    ("add", (np.float64([[1.5, -2.0]]), 3.0), lambda a, b: a + b),
    ("matmul", (np.float64([[1.0, 2.0]]), np.float64([[3.0], [4.0]])), np.matmul),
    ("softmax", (np.float64([[1.0, 2.0, 3.0]]),),
     lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
    ("mean", (np.float64([[1.0, 2.0, 4.0]]),), lambda a: a.mean()),
    ("reshape", (np.arange(6.0), (2, 3)), lambda a, s: a.reshape(s)),
])
def test_ops_on_arrays_compute_at_once_in_float32(name, args, reference):
    out = getattr(ops, name)(*args)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference(*args), rtol=1e-6)


def test_random_ops_on_arrays_match_float64_numpy(rng):
    a = rng.normal(0, 1, (5, 6))
    b = rng.uniform(0.5, 2.0, (6,))
    checks = [
        (ops.divide(a, b), a / b), (ops.maximum(a, b), np.maximum(a, b)),
        (ops.exp(a), np.exp(a)), (ops.log(b), np.log(b)), (ops.sqrt(b), np.sqrt(b)),
        (ops.sum(a, axis=1), a.sum(1)),
        (ops.max(a, axis=-1, keepdims=True), a.max(-1, keepdims=True)),
        (ops.transpose(a), a.T), (ops.var(a, axis=0), a.var(0)),
        (ops.concatenate([a, a], axis=-1), np.concatenate([a, a], -1)),
    ]
    for got, want in checks:
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_a_custom_layer_saves_and_loads_with_custom_objects(tmp_path, rng):
    Custom = make_layer_class(layers.Layer, ops)

    class Saveable(Custom):
        def __init__(self, scale=1.0, **kwargs):
            super().__init__(BODIES["dense_relu"], **kwargs)
            self.scale = scale

        def call(self, x):
            return super().call(x) * self.scale

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    inp = ember.Input((IN,))
    model = ember.Model(inp, Saveable(scale=2.0)(inp))
    model.layers[1].set_weights(_weights(rng))
    x = rng.normal(0, 1, (9, IN)).astype(np.float32)
    before = model.predict(x, verbose=0)
    path = tmp_path / "custom.keras"
    model.save(path)
    with pytest.raises((TypeError, ValueError), match="Saveable"):
        ember.saving.load_model(path)
    loaded = ember.saving.load_model(path, custom_objects={"Saveable": Saveable})
    assert loaded.layers[1].scale == 2.0
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    clone = Saveable.from_config(model.layers[1].get_config())
    assert clone.scale == 2.0 and clone.name == model.layers[1].name


def test_registered_custom_layer_loads_without_custom_objects(tmp_path, rng):
    @ember.saving.register_keras_serializable(package="ember_tests")
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.k = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="k")

        def call(self, x):
            return x * self.k

    inp = ember.Input((3,))
    model = ember.Model(inp, Scale()(inp))
    model.layers[1].set_weights([np.float32([1.0, -2.0, 0.5])])
    path = tmp_path / "scale.keras"
    model.save(path)
    loaded = ember.saving.load_model(path)
    x = rng.normal(0, 1, (4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), x * np.float32([1.0, -2.0, 0.5]))


def test_misuse_inside_call_raises_clear_errors(rng):
    def layer_with(body):
        class L(layers.Layer):
            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[-1], 2), name="w")

            def call(self, x):
                return body(self, x)
        return L()

    inp = ember.Input((4,))
    with pytest.raises(ValueError, match="batch axis"):
        layer_with(lambda self, x: ops.sum(x))(inp)
    with pytest.raises(ValueError, match="batch axis"):
        layer_with(lambda self, x: x[0])(inp)
    with pytest.raises(NotImplementedError, match="weights alone"):
        layer_with(lambda self, x: ops.matmul(x, ops.exp(self.w)))(inp)
    with pytest.raises(TypeError, match="NumPy"):
        layer_with(lambda self, x: np.tanh(x))(inp)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        layer_with(lambda self, x: x + np.ones(3, np.float32))(inp)
    with pytest.raises(ValueError, match="do not match"):
        layer_with(lambda self, x: ops.matmul(x, np.ones((3, 2), np.float32)))(inp)
    with pytest.raises(TypeError, match="must return"):
        layer_with(lambda self, x: 1.0)(inp)
    with pytest.raises(TypeError, match="truth value"):
        layer_with(lambda self, x: x if x else x)(inp)


def test_a_custom_activation_function_of_ops_trains_like_keras(keras, rng):
    def make(K):
        def scaled_tanh(t):
            return K.ops.tanh(t) * 1.5 + K.ops.square(t) * 0.1
        return scaled_tanh

    x = rng.normal(0, 1, (24, 3)).astype(np.float32)
    y = rng.normal(0, 1, (24, 2)).astype(np.float32)
    models = []
    for K in (ember, keras):
        inp = K.Input((3,))
        h = K.layers.Dense(4, activation=make(K))(inp)
        out = K.layers.Activation(make(K))(K.layers.Dense(2)(h))
        m = K.Model(inp, out)
        m.compile(optimizer=K.optimizers.SGD(0.05), loss="mse")
        models.append(m)
    em, km = models
    em.set_weights(km.get_weights())
    eh = em.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    kh = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(eh, kh, rtol=2e-5)
    for e, k in zip(em.get_weights(), km.get_weights()):
        assert_weights_close(e, k, rtol=2e-5, atol=2e-6)
