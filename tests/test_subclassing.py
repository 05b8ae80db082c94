"""Subclassing as Keras users do, the same class written once for Keras and for ember:
a stateful Metric (add_variable, update_state, result, reset_state) in compile, fit
and evaluate; an Optimizer (build, update_step) training a model; and
OrthogonalRegularizer's penalty and training. Each against Keras 3 (jax)."""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

FEATURES, SAMPLES = 5, 40


def mlp(lib, **dense_kwargs):
    return lib.Sequential([
        lib.Input((FEATURES,)),
        lib.layers.Dense(6, activation="tanh", **dense_kwargs),
        lib.layers.Dense(3),
    ])


def twins(keras, rng, **dense_kwargs):
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model = mlp(keras, **dense_kwargs)
    ember_model = mlp(ember, **dense_kwargs)
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = rng.normal(size=(SAMPLES, 3)).astype("float32")
    return keras_model, ember_model, x, y


# -- a stateful metric ------------------------------------------------------------------
def weighted_abs_error(lib):
    ops = lib.ops

    class WeightedAbsError(lib.metrics.Metric):
        """Sum of |y_true - y_pred| (times the sample weight) over the number of rows."""

        def __init__(self, name="weighted_abs_error", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")
            self.count = self.add_variable(shape=(), initializer="zeros", name="count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            error = ops.abs(ops.subtract(y_true, y_pred))
            if sample_weight is not None:
                error = ops.multiply(error, ops.expand_dims(sample_weight, -1))
            self.total.assign_add(ops.sum(error))
            self.count.assign_add(ops.cast(ops.shape(y_true)[0], "float32"))

        def result(self):
            return ops.divide(self.total, self.count)

    return WeightedAbsError


def test_custom_metric_alone_matches_keras(keras, rng):
    y_true, y_pred = rng.normal(size=(2, 8, 3)).astype("float32")
    weights = rng.uniform(0.1, 2.0, 8).astype("float32")
    keras_metric, ember_metric = weighted_abs_error(keras)(), weighted_abs_error(ember)()
    for metric in (keras_metric, ember_metric):
        metric.update_state(y_true[:5], y_pred[:5])
        metric.update_state(y_true[5:], y_pred[5:], sample_weight=weights[5:])
    assert float(ember_metric.result()) == pytest.approx(float(keras_metric.result()), rel=1e-6)
    assert [v.name for v in ember_metric.variables] == ["total", "count"]
    ember_metric.reset_state()
    assert [float(v.numpy()) for v in ember_metric.variables] == [0.0, 0.0]


def test_custom_metric_in_compile_matches_keras_in_fit_and_evaluate(keras, rng):
    keras_model, ember_model, x, y = twins(keras, rng)
    sample_weight = rng.uniform(0.2, 2.0, SAMPLES).astype("float32")
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        metric = weighted_abs_error(lib)
        model.compile(lib.optimizers.SGD(0.05), "mse", metrics=[metric()],
                      weighted_metrics=[metric(name="weighted")])
    fit_args = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0,
                "sample_weight": sample_weight}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    assert sorted(ember_history) == sorted(keras_history)
    for key in keras_history:
        np.testing.assert_allclose(ember_history[key], keras_history[key], rtol=1e-5,
                                   err_msg=key)
    expected = keras_model.evaluate(x, y, sample_weight=sample_weight, batch_size=8, verbose=0,
                                    return_dict=True)
    got = ember_model.evaluate(x, y, sample_weight=sample_weight, batch_size=8, verbose=0,
                               return_dict=True)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == pytest.approx(expected[key], rel=1e-5), key


# -- an optimizer -------------------------------------------------------------------------
def momentum_sgd(lib):
    ops = lib.ops

    class MomentumSGD(lib.optimizers.Optimizer):
        """v = momentum v - lr g; w += v, written as a Keras user writes it."""

        def __init__(self, learning_rate=0.05, momentum=0.9, name="momentum_sgd", **kwargs):
            super().__init__(learning_rate=learning_rate, name=name, **kwargs)
            self.momentum = momentum

        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self.velocities = [self.add_variable_from_reference(v, "velocity")
                               for v in var_list]

        def update_step(self, gradient, variable, learning_rate):
            lr = ops.cast(learning_rate, variable.dtype)
            v = self.velocities[self._get_variable_index(variable)]
            self.assign(v, ops.subtract(ops.multiply(v, self.momentum),
                                        ops.multiply(gradient, lr)))
            self.assign_add(variable, v)

    return MomentumSGD


@pytest.mark.parametrize("common", [{}, {"clipnorm": 0.5, "weight_decay": 0.01}],
                         ids=["plain", "clipnorm_and_weight_decay"])
def test_custom_optimizer_trains_to_keras_weights(keras, rng, common):
    keras_model, ember_model, x, y = twins(keras, rng)
    keras_model.compile(momentum_sgd(keras)(**common), "mse")
    ember_model.compile(momentum_sgd(ember)(**common), "mse")
    fit_args = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    for k, e in zip(keras_model.get_weights(), ember_model.get_weights(), strict=True):
        assert_weights_close(e, k, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ember_history["loss"], keras_history["loss"], rtol=1e-5)
    assert ember_model.optimizer.iterations == keras_model.optimizer.iterations


def test_optimizer_without_update_step_says_what_to_write():
    class Empty(ember.optimizers.Optimizer):
        pass

    model = mlp(ember)
    model.compile(Empty(learning_rate=0.1), "mse")
    with pytest.raises(NotImplementedError, match="update_step"):
        model.fit(np.ones((4, FEATURES), "float32"), np.ones((4, 3), "float32"), verbose=0)


# -- OrthogonalRegularizer ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_penalty_matches_keras(keras, rng, mode):
    w = rng.normal(size=(5, 7)).astype("float32")
    # A backend tensor: Keras's NumPy path of `normalize` mishandles axis=0 (columns).
    expected = float(keras.regularizers.OrthogonalRegularizer(0.3, mode=mode)(
        keras.ops.convert_to_tensor(w)))
    got = float(ember.regularizers.OrthogonalRegularizer(0.3, mode=mode)(w))
    assert got == pytest.approx(expected, rel=1e-6)
    assert ember.regularizers.get("orthogonal_regularizer").get_config() == \
        keras.regularizers.get("orthogonal_regularizer").get_config()
    assert ember.regularizers.OrthogonalRegularizer(0.3, mode).get_config() == \
        keras.regularizers.OrthogonalRegularizer(0.3, mode).get_config()


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_trains_to_keras_weights(keras, rng, mode):
    def reg(lib):
        return lib.regularizers.OrthogonalRegularizer(0.5, mode=mode)

    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model = mlp(keras, kernel_regularizer=reg(keras))
    ember_model = mlp(ember, kernel_regularizer=reg(ember))
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = rng.normal(size=(SAMPLES, 3)).astype("float32")
    keras_model.compile(keras.optimizers.SGD(0.05), "mse")
    ember_model.compile(ember.optimizers.SGD(0.05), "mse")
    fit_args = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    for k, e in zip(keras_model.get_weights(), ember_model.get_weights(), strict=True):
        assert_weights_close(e, k, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ember_history["loss"], keras_history["loss"], rtol=1e-5)


def test_orthogonal_regularizer_rejects_a_weight_not_of_rank_2():
    with pytest.raises(ValueError, match="rank 2"):
        ember.layers.Dense(3, bias_regularizer=ember.regularizers.OrthogonalRegularizer())(
            ember.Input((4,)))
    with pytest.raises(ValueError, match="mode"):
        ember.regularizers.OrthogonalRegularizer(mode="diagonal")


# -- a Regularizer of your own ------------------------------------------------------------
def norm_penalty(lib):
    ops = lib.ops

    class NormPenalty(lib.regularizers.Regularizer):
        """strength * sqrt(sum(w^2) + 1e-3) + 0.01 * mean(|w|): not a sum of per-element
        terms, so only the whole weight gives it."""

        def __init__(self, strength=0.1):
            self.strength = strength

        def __call__(self, x):
            return self.strength * ops.sqrt(ops.sum(ops.square(x)) + 1e-3) + \
                0.01 * ops.mean(ops.abs(x))

        def get_config(self):
            return {"strength": self.strength}

    return NormPenalty


def test_custom_regularizer_trains_to_keras_weights(keras, rng):
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model = mlp(keras, kernel_regularizer=norm_penalty(keras)(0.2),
                      bias_regularizer=norm_penalty(keras)(0.05))
    ember_model = mlp(ember, kernel_regularizer=norm_penalty(ember)(0.2),
                      bias_regularizer=norm_penalty(ember)(0.05))
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = rng.normal(size=(SAMPLES, 3)).astype("float32")
    keras_model.compile(keras.optimizers.SGD(0.05), "mse")
    ember_model.compile(ember.optimizers.SGD(0.05), "mse")
    fit_args = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    for k, e in zip(keras_model.get_weights(), ember_model.get_weights(), strict=True):
        assert_weights_close(e, k, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ember_history["loss"], keras_history["loss"], rtol=1e-5)
    w = rng.normal(size=(4, 3)).astype("float32")  # called directly: the penalty of an array
    assert float(norm_penalty(ember)(0.2)(w)) == pytest.approx(
        float(norm_penalty(keras)(0.2)(w)), rel=1e-6)


def test_custom_regularizer_that_cannot_be_recorded_says_why():
    class Branching(ember.regularizers.Regularizer):
        def __call__(self, x):
            return 1.0 if float(np.sum(x)) > 0 else 0.0  # Python control flow on values

    with pytest.raises(NotImplementedError, match="could not be recorded"):
        ember.layers.Dense(3, kernel_regularizer=Branching())(ember.Input((4,)))
