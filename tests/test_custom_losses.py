"""Custom losses and metrics written as Python functions of ember.ops (issue 3,
item 9): recorded into graphs the engine runs every batch, differentiated by the
engine; same weights and batches give Keras 3's losses, metrics and weights."""

import ember
import numpy as np
import pytest
from parity import assert_weights_close


def _models(keras, rng, compile_args, units=2):
    models = {}
    for lib in (ember, keras):
        m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, activation="tanh"),
                            lib.layers.Dense(units)])
        models[lib] = m
    models[ember].set_weights(models[keras].get_weights())
    for lib, m in models.items():
        m.compile(**compile_args(lib))
    return models[ember], models[keras]


def _fit_both(em, km, x, y, **kwargs):
    args = dict(batch_size=8, epochs=2, shuffle=False, verbose=0, **kwargs)
    eh, kh = em.fit(x, y, **args).history, km.fit(x, y, **args).history
    assert sorted(eh) == sorted(kh)
    for key in kh:
        np.testing.assert_allclose(eh[key], kh[key], rtol=2e-5, atol=1e-6, err_msg=key)
    for e, k in zip(em.get_weights(), km.get_weights()):
        assert_weights_close(e, k, rtol=2e-5, atol=2e-6)
    return eh


def _scaled_error(K):
    def scaled_error(y_true, y_pred):
        d = y_pred - y_true
        return K.ops.mean(K.ops.square(d) * 2.0 + K.ops.abs(y_pred) * 0.1, axis=-1)
    return scaled_error


@pytest.mark.parametrize("weighted", [False, True])
def test_a_custom_loss_function_trains_like_keras(keras, rng, weighted):
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.normal(size=(40, 2)).astype(np.float32)
    em, km = _models(keras, rng, lambda K: dict(optimizer=K.optimizers.Adam(0.01),
                                                 loss=_scaled_error(K), metrics=["mae"]))
    kwargs = {"sample_weight": rng.uniform(0.2, 2.0, 40).astype(np.float32)} if weighted else {}
    _fit_both(em, km, x, y, validation_split=0.25, **kwargs)
    np.testing.assert_allclose(em.evaluate(x, y, verbose=0, **kwargs),
                               km.evaluate(x, y, verbose=0, **kwargs), rtol=2e-5)


def test_unreduced_values_average_over_every_element_as_keras(keras, rng):
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = rng.normal(size=(24, 2)).astype(np.float32)
    em, km = _models(keras, rng, lambda K: dict(
        optimizer=K.optimizers.SGD(0.1), loss=lambda t, p: K.ops.square(p - t) * 0.5))
    _fit_both(em, km, x, y)


def test_a_loss_subclass_with_its_own_call_and_reduction(keras, rng):
    def make(K):
        class Focal(K.losses.Loss):
            def __init__(self, gamma=2.0, **kwargs):
                super().__init__(**kwargs)
                self.gamma = gamma

            def call(self, y_true, y_pred):
                p = K.ops.sigmoid(y_pred)
                q = y_true * p + (1.0 - y_true) * (1.0 - p)
                return K.ops.mean(-K.ops.power(1.0 - q, self.gamma) * K.ops.log(q + 1e-6),
                                  axis=-1)
        return Focal(gamma=1.5, reduction="sum")

    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (rng.random((32, 1)) > 0.5).astype(np.float32)
    em, km = _models(keras, rng, lambda K: dict(optimizer=K.optimizers.SGD(0.05),
                                                 loss=make(K)), units=1)
    _fit_both(em, km, x, y)


def test_rank_1_labels_get_keras_s_trailing_axis_in_a_custom_loss(keras, rng):
    def make(K):
        def margin(y_true, y_pred):  # y_true arrives as (batch, 1), like y_pred
            return K.ops.mean(K.ops.relu(1.0 - (2.0 * y_true - 1.0) * y_pred), axis=-1)
        return margin

    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.integers(0, 2, 32).astype(np.float32)  # shape (32,)
    em, km = _models(keras, rng, lambda K: dict(optimizer=K.optimizers.SGD(0.05),
                                                 loss=make(K)), units=1)
    _fit_both(em, km, x, y)


def test_custom_metric_functions_in_compile_and_weighted_metrics(keras, rng):
    def make(K):
        def tripled_error(y_true, y_pred):
            return K.ops.mean(K.ops.abs(y_pred - y_true) * 3.0, axis=-1)
        return dict(optimizer=K.optimizers.Adam(0.01), loss="mse",
                    metrics=[tripled_error, "mae"], weighted_metrics=[tripled_error])

    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.normal(size=(40, 2)).astype(np.float32)
    em, km = _models(keras, rng, make)
    history = _fit_both(em, km, x, y, validation_split=0.25,
                        sample_weight=rng.uniform(0.5, 2.0, 40).astype(np.float32))
    assert {"tripled_error", "weighted_tripled_error", "val_tripled_error"} <= set(history)


def test_a_custom_loss_that_is_not_written_with_ops_is_rejected_clearly(rng):
    model = ember.Sequential([ember.Input((3,)), ember.layers.Dense(1)])
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    model.compile("sgd", loss=lambda t, p: 0.5)
    with pytest.raises(TypeError, match="custom loss"):
        model.fit(x, y, verbose=0)
    model.compile("sgd", loss=lambda t, p: np.mean((p - t) ** 2))
    with pytest.raises(TypeError, match="NumPy"):
        model.fit(x, y, verbose=0)
    model.compile("sgd", loss=lambda t, p: ember.ops.mean(p - t))
    with pytest.raises(ValueError, match="batch axis"):
        model.fit(x, y, verbose=0)
