"""ember.losses against Keras 3 (jax backend) and float64 references.

Every loss is checked as a function (per-sample values), as a class (each
reduction, with and without sample_weight), through the engine's kernel (value
and gradient against `jax.grad` of Keras's own loss, ties included), and in
training (same weights, same batches, 3 epochs).

Tolerances. Per-sample values are float32 expressions summed in a different
order from XLA's: measured relative differences <= 4e-6 (most <= 3e-7), hence
rtol 1e-5 with a small atol for values near 0. Gradients agree to <= 3e-7 of
their largest entry. Training agrees as in test_keras_parity.py.
"""

import inspect
import math

import ember
import numpy as np
import pytest
from parity import assert_weights_close

ROWS, COLS = 9, 4
VALUE_TOL = {"rtol": 1e-5, "atol": 1e-6}
GRAD_TOL = {"rtol": 1e-5, "atol": 1e-7}
WEIGHTS_TOL = {"rtol": 1e-5, "atol": 1e-6}
LOSS_RTOL = 5e-6
REDUCTIONS = ["sum_over_batch_size", "sum", "mean_with_sample_weight", None]
F32_ONE_MINUS_EPS = float(np.float32(1) - np.float32(1e-7))


# -- inputs ----------------------------------------------------------------------------
def normal(rng, shape=(ROWS, COLS)):
    return rng.normal(size=shape).astype("float32")


def away_from_zero(rng, shape=(ROWS, COLS)):
    return (rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype("float32")


def probabilities(rng, shape=(ROWS, COLS)):
    return rng.uniform(0.02, 0.98, shape).astype("float32")


def unnormalised(rng, shape=(ROWS, COLS)):
    return rng.uniform(0.05, 1.0, shape).astype("float32")


def binary(rng, shape=(ROWS, COLS)):
    labels = (rng.random(shape) > 0.5).astype("float32")
    labels.flat[:2] = [0.0, 1.0]  # both classes, whatever the draw
    return labels


def one_hot(rng, shape=(ROWS, COLS)):
    return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], shape[:-1])]


def class_ids(rng, shape=(ROWS, COLS), low=0):
    return rng.integers(low, shape[-1], shape[:-1]).astype("float32")


def distribution(rng, shape=(ROWS, COLS)):
    e = np.exp(rng.normal(size=shape))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


# case id: (class name, function name, arguments, y_true(rng), y_pred(rng))
CASES = {
    "mse": ("MeanSquaredError", "mean_squared_error", {}, normal, normal),
    "mae": ("MeanAbsoluteError", "mean_absolute_error", {}, normal, normal),
    "mape": ("MeanAbsolutePercentageError", "mean_absolute_percentage_error", {},
             away_from_zero, normal),
    "msle": ("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", {},
             lambda r: np.abs(normal(r)), normal),
    "huber": ("Huber", "huber", {}, normal, lambda r: 2 * normal(r)),
    "huber_delta": ("Huber", "huber", {"delta": 0.4}, normal, normal),
    "log_cosh": ("LogCosh", "log_cosh", {}, normal, lambda r: 3 * normal(r)),
    "bce": ("BinaryCrossentropy", "binary_crossentropy", {}, binary, probabilities),
    "bce_smoothing": ("BinaryCrossentropy", "binary_crossentropy", {"label_smoothing": 0.2},
                      binary, probabilities),
    "bce_logits": ("BinaryCrossentropy", "binary_crossentropy",
                   {"from_logits": True, "label_smoothing": 0.1}, binary,
                   lambda r: 4 * normal(r)),
    "focal": ("BinaryFocalCrossentropy", "binary_focal_crossentropy", {}, binary, probabilities),
    "focal_balanced": ("BinaryFocalCrossentropy", "binary_focal_crossentropy",
                       {"apply_class_balancing": True, "alpha": 0.35, "gamma": 1.5,
                        "label_smoothing": 0.1}, binary, probabilities),
    "focal_logits": ("BinaryFocalCrossentropy", "binary_focal_crossentropy",
                     {"from_logits": True, "gamma": 3.0}, binary, lambda r: 2 * normal(r)),
    "cce": ("CategoricalCrossentropy", "categorical_crossentropy", {}, one_hot, unnormalised),
    "cce_smoothing": ("CategoricalCrossentropy", "categorical_crossentropy",
                      {"label_smoothing": 0.3}, one_hot, unnormalised),
    "cce_logits": ("CategoricalCrossentropy", "categorical_crossentropy",
                   {"from_logits": True, "label_smoothing": 0.1}, distribution,
                   lambda r: 3 * normal(r)),
    "scce": ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", {}, class_ids,
             unnormalised),
    "scce_logits": ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
                    {"from_logits": True}, class_ids, lambda r: 3 * normal(r)),
    "scce_ignore_class": ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
                          {"ignore_class": 1}, class_ids, unnormalised),
    "scce_logits_ignore_minus_one": ("SparseCategoricalCrossentropy",
                                     "sparse_categorical_crossentropy",
                                     {"from_logits": True, "ignore_class": -1},
                                     lambda r: class_ids(r, low=-1), normal),
    "kld": ("KLDivergence", "kl_divergence", {}, distribution, distribution),
    "poisson": ("Poisson", "poisson", {}, lambda r: r.poisson(2.0, (ROWS, COLS)).astype("f4"),
                lambda r: r.uniform(0.1, 4.0, (ROWS, COLS)).astype("float32")),
    "hinge": ("Hinge", "hinge", {}, binary, normal),
    "hinge_signed": ("Hinge", "hinge", {}, lambda r: 2 * binary(r) - 1, normal),
    "squared_hinge": ("SquaredHinge", "squared_hinge", {}, binary, normal),
    "categorical_hinge": ("CategoricalHinge", "categorical_hinge", {}, one_hot, normal),
    "cosine": ("CosineSimilarity", "cosine_similarity", {}, normal, normal),
}

def case_inputs(case, rng):
    cls, fn, kwargs, make_true, make_pred = CASES[case]
    return cls, fn, kwargs, make_true(rng), make_pred(rng)


# -- float64 references of Keras's formulas -----------------------------------------
def softplus(x):
    return np.logaddexp(x, 0.0)


def reference(fn, t, p, from_logits=False, label_smoothing=0.0, delta=1.0, ignore_class=None,
              apply_class_balancing=False, alpha=0.25, gamma=2.0):
    """Per-sample values in float64, straight from Keras's formulas."""
    t, p = np.float64(t), np.float64(p)
    eps, hi = 1e-7, F32_ONE_MINUS_EPS
    if fn == "mean_squared_error":
        return np.mean((t - p) ** 2, -1)
    if fn == "mean_absolute_error":
        return np.mean(np.abs(t - p), -1)
    if fn == "mean_absolute_percentage_error":
        return 100 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), eps)), -1)
    if fn == "mean_squared_logarithmic_error":
        return np.mean((np.log1p(np.maximum(p, eps)) - np.log1p(np.maximum(t, eps))) ** 2, -1)
    if fn == "huber":
        e = np.abs(p - t)
        return np.mean(np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2), -1)
    if fn == "log_cosh":
        return np.mean(np.log(np.cosh(p - t)), -1)
    if fn in ("binary_crossentropy", "binary_focal_crossentropy"):
        t = t * (1 - label_smoothing) + 0.5 * label_smoothing
        if fn == "binary_crossentropy" and from_logits:
            return np.mean(t * softplus(-p) + (1 - t) * softplus(p), -1)
        if from_logits:
            p = 1 / (1 + np.exp(-p))
        o = np.clip(p, eps, hi)
        bce = -(t * np.log(o) + (1 - t) * np.log(1 - o))
        if fn == "binary_crossentropy":
            return np.mean(bce, -1)
        focal = (1 - (t * p + (1 - t) * (1 - p))) ** gamma * bce
        if apply_class_balancing:
            focal *= t * alpha + (1 - t) * (1 - alpha)
        return np.mean(focal, -1)
    if fn in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        ignored = None
        if fn == "sparse_categorical_crossentropy":
            ignored = t == ignore_class if ignore_class is not None else np.zeros(t.shape, bool)
            t = np.eye(p.shape[-1])[np.where(ignored, 0, t).astype(int)]
        else:
            t = t * (1 - label_smoothing) + label_smoothing / t.shape[-1]
        if from_logits:
            log_p = p - p.max(-1, keepdims=True)
            log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
        else:
            log_p = np.log(np.clip(p / p.sum(-1, keepdims=True), eps, hi))
        values = -np.sum(t * log_p, -1)
        return values if ignored is None else np.where(ignored, 0.0, values)
    if fn == "kl_divergence":
        t, p = np.clip(t, eps, 1), np.clip(p, eps, 1)
        return np.sum(t * np.log(t / p), -1)
    if fn == "poisson":
        return np.mean(p - t * np.log(p + eps), -1)
    if fn in ("hinge", "squared_hinge"):
        if np.all((t == 0) | (t == 1)):
            t = 2 * t - 1
        m = np.maximum(1 - t * p, 0)
        return np.mean(m if fn == "hinge" else m**2, -1)
    if fn == "categorical_hinge":
        return np.maximum(np.max((1 - t) * p, -1) - np.sum(t * p, -1) + 1, 0)
    if fn == "cosine_similarity":
        def unit(x):
            return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)
        return -np.sum(unit(t) * unit(p), -1)
    raise AssertionError(fn)


# -- values ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(CASES))
def test_function_matches_keras(keras, rng, case):
    _, fn, kwargs, y_true, y_pred = case_inputs(case, rng)

    expected = np.asarray(getattr(keras.losses, fn)(y_true, y_pred, **kwargs))
    got = getattr(ember.losses, fn)(y_true, y_pred, **kwargs)

    assert got.dtype == np.float32 and got.shape == expected.shape == (ROWS,)
    np.testing.assert_allclose(got, expected, **VALUE_TOL)


@pytest.mark.parametrize("case", list(CASES))
def test_function_matches_float64_reference(rng, case):
    _, fn, kwargs, y_true, y_pred = case_inputs(case, rng)

    got = getattr(ember.losses, fn)(y_true, y_pred, **kwargs)

    np.testing.assert_allclose(got, reference(fn, y_true, y_pred, **kwargs), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_class_matches_keras(keras, rng, case, reduction, weighted):
    cls, _, kwargs, y_true, y_pred = case_inputs(case, rng)
    sample_weight = rng.uniform(0.1, 2.0, ROWS).astype("float32") if weighted else None

    expected = getattr(keras.losses, cls)(**kwargs, reduction=reduction)(
        y_true, y_pred, sample_weight=sample_weight)
    got = getattr(ember.losses, cls)(**kwargs, reduction=reduction)(
        y_true, y_pred, sample_weight=sample_weight)

    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, np.asarray(expected), **VALUE_TOL)


def test_class_broadcasts_per_sample_weights_over_sequence_losses_like_keras(keras, rng):
    y_true, y_pred = class_ids(rng, (6, 5, 3)), unnormalised(rng, (6, 5, 3))
    sample_weight = rng.uniform(0.1, 2.0, (6, 1)).astype("float32")

    expected = keras.losses.SparseCategoricalCrossentropy(ignore_class=2)(
        y_true, y_pred, sample_weight=sample_weight)
    got = ember.losses.SparseCategoricalCrossentropy(ignore_class=2)(
        y_true, y_pred, sample_weight=sample_weight)

    assert float(got) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("case", ["bce", "cce_logits", "focal_logits", "cosine"])
def test_function_reduces_over_any_axis_like_keras(keras, rng, case):
    _, fn, kwargs, _, _ = CASES[case]
    shape = (3, COLS, 5)  # the class/feature axis is axis 1
    y_pred = 3 * normal(rng, shape) if kwargs.get("from_logits") or case == "cosine" \
        else probabilities(rng, shape)
    if case == "cce_logits":
        y_true = np.moveaxis(one_hot(rng, (3, 5, COLS)), -1, 1)
    else:
        y_true = binary(rng, shape) if fn.startswith("binary") else normal(rng, shape)

    expected = np.asarray(getattr(keras.losses, fn)(y_true, y_pred, **kwargs, axis=1))
    got = getattr(ember.losses, fn)(y_true, y_pred, **kwargs, axis=1)

    assert got.shape == expected.shape == (3, 5)
    np.testing.assert_allclose(got, expected, **VALUE_TOL)


def test_functions_line_up_a_flat_target_with_a_column_like_keras(keras, rng):
    y_true, y_pred = normal(rng, (ROWS,)), normal(rng, (ROWS, 1))

    for fn in ("mean_squared_error", "huber", "log_cosh", "mean_absolute_error"):
        expected = np.asarray(getattr(keras.losses, fn)(y_true, y_pred))
        got = getattr(ember.losses, fn)(y_true, y_pred)
        assert got.shape == expected.shape == (ROWS,)
        np.testing.assert_allclose(got, expected, **VALUE_TOL)


# -- the kernel's value and gradient against jax's autodiff of Keras --------------------
def keras_value_and_grad(keras_loss, y_true, y_pred, sample_weight=None):
    import jax
    import jax.numpy as jnp

    # jitted as Keras's train step is (and one XLA compile is cheaper than op-by-op ones).
    value_and_grad = jax.jit(jax.value_and_grad(
        lambda p: keras_loss(y_true, p, sample_weight=sample_weight)))
    value, grad = value_and_grad(jnp.asarray(y_pred))
    return float(value), np.asarray(grad)


def assert_kernel_matches_keras(keras, cls, kwargs, y_true, y_pred, sample_weight=None,
                                reduction="sum_over_batch_size"):
    keras_loss = getattr(keras.losses, cls)(**kwargs, reduction=reduction)
    ember_loss = getattr(ember.losses, cls)(**kwargs, reduction=reduction)

    expected_value, expected_grad = keras_value_and_grad(keras_loss, y_true, y_pred, sample_weight)
    value, grad = ember.losses.loss_gradient(ember_loss, y_true, y_pred, sample_weight)

    assert value == pytest.approx(expected_value, rel=1e-5, abs=1e-7, nan_ok=True)
    np.testing.assert_allclose(grad, expected_grad, **GRAD_TOL)


@pytest.mark.parametrize("case", list(CASES))
def test_kernel_value_and_gradient_match_jax_grad_of_keras(keras, rng, case):
    cls, _, kwargs, y_true, y_pred = case_inputs(case, rng)
    sample_weight = rng.uniform(0.1, 2.0, ROWS).astype("float32")

    assert_kernel_matches_keras(keras, cls, kwargs, y_true, y_pred, sample_weight)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS[:3])
@pytest.mark.parametrize("case", ["huber_delta", "scce_ignore_class"])
def test_kernel_reductions_match_jax_grad_of_keras(keras, rng, case, reduction, weighted):
    cls, _, kwargs, y_true, y_pred = case_inputs(case, rng)
    sample_weight = rng.uniform(0.1, 2.0, ROWS).astype("float32") if weighted else None

    assert_kernel_matches_keras(keras, cls, kwargs, y_true, y_pred, sample_weight, reduction)


EPS = np.float32(1e-7)
TOP = np.float32(1) - EPS

# Inputs where jax's tie rules decide the gradient: max/min/clip pass half on a tie,
# |x|' is +1 at 0, a max over classes shares its gradient among equal maxima. All
# are 2 x 4, so that jax compiles its ops once for them all.
TIES = {
    "mape_zero_residuals_and_zero_targets": (
        "MeanAbsolutePercentageError", {},
        [[1, 0, -2, 0.5], [3, -1, 0, 2]], [[1, 0.5, -2, 0.7], [3, 0, 0, 1]]),
    "msle_predictions_at_and_below_epsilon": (
        "MeanSquaredLogarithmicError", {},
        [[0.5, 0.5, 0.5, 0.5], [0, 2, 1, EPS]], [[EPS, 0, -1, 0.3], [EPS, 2, -0.5, 1e-8]]),
    "huber_errors_equal_to_delta": (
        "Huber", {"delta": 0.5},
        [[1, 1, 1, 0], [2, 2, 0, 0]], [[1.5, 0.5, 1, 0.25], [2.5, 1, 0.5, -0.5]]),
    "hinge_margins_exactly_met": (
        "Hinge", {}, [[1, 0, 1, 0], [1, 1, 0, 0]], [[1, -1, 0.5, 2], [1, 0.3, -1, -0.2]]),
    "squared_hinge_margins_exactly_met": (
        "SquaredHinge", {}, [[1, 0, 1, 0], [1, 1, 0, 0]], [[1, -1, 0.5, 2], [1, 0.3, -1, -0.2]]),
    "categorical_hinge_equal_maxima": (
        "CategoricalHinge", {},
        [[1, 0, 0, 0], [0, 1, 0, 0]], [[0.5, -1, -1, -2], [0.2, 0.9, 0.2, 0.2]]),
    "categorical_hinge_margin_exactly_met": (
        "CategoricalHinge", {}, [[1, 0, 0, 0], [0, 0, 1, 0]], [[1, 0, -1, -1], [2, 1, 2, 0]]),
    "kld_clip_bounds": (
        "KLDivergence", {},
        [[0.25, 0.25, 0.25, 0.25], [0, 0.5, 0.5, 0]], [[1, 1.5, 0, EPS], [0.3, 0.7, 1, 0.5]]),
    "bce_clip_bounds": (
        "BinaryCrossentropy", {},
        [[0, 1, 1, 0], [1, 0, 0.5, 1]], [[TOP, EPS, 0, 1], [0.5, 0.2, TOP, 1.5]]),
    "focal_sigmoid_at_the_clip_bound": (
        "BinaryFocalCrossentropy", {"from_logits": True},
        [[0, 1, 1, 0], [1, 0, 1, 0]], [[16, -16, 30, -30], [0, 1, 15.9, -17]]),
    "cce_certain_predictions": (
        "CategoricalCrossentropy", {},
        [[0, 1, 0, 0], [1, 0, 0, 0]], [[1, 0, 0, 0], [0.5, 0.5, 0, 0]]),
    "cce_logits_far_apart": (
        "CategoricalCrossentropy", {"from_logits": True},
        [[0, 1, 0, 0], [0.2, 0.3, 0.5, 0]], [[100, -100, 50, 0], [0, 0, 0, 0]]),
    "bce_logits_saturated": (
        "BinaryCrossentropy", {"from_logits": True},
        [[0, 1, 1, 0.3], [1, 0, 0.5, 1]], [[100, -100, 100, 0], [0, 50, -80, 1e-3]]),
    "cosine_norm_below_epsilon": (
        "CosineSimilarity", {}, [[1, 2, 0, 0], [1, 0, 0, 1]], [[1e-8, 1e-8, 0, 0], [2, 0, 0, 2]]),
    "poisson_zero_predictions": (
        "Poisson", {}, [[1, 0, 2, 0], [3, 1, 0, 1]], [[0, 0, 1, 2], [0.5, 0, 0, 1]]),
    "scce_every_entry_ignored": (
        "SparseCategoricalCrossentropy", {"ignore_class": 2},
        [2, 2], [[0.2, 0.3, 0.5, 0.1], [0.1, 0.1, 0.8, 0.3]]),
}


@pytest.mark.parametrize("case", list(TIES))
def test_kernel_gradient_at_ties_matches_keras(keras, case):
    cls, kwargs, y_true, y_pred = TIES[case]

    assert_kernel_matches_keras(keras, cls, kwargs, np.asarray(y_true, "float32"),
                                np.asarray(y_pred, "float32"))


def test_mean_with_sample_weight_of_zero_weights_is_zero_like_keras(keras, rng):
    y_true, y_pred = normal(rng), normal(rng)

    assert_kernel_matches_keras(keras, "MeanSquaredError", {}, y_true, y_pred,
                                np.zeros(ROWS, "float32"), "mean_with_sample_weight")


# -- training ----------------------------------------------------------------------------
SAMPLES, FEATURES = 48, 5  # 3 full batches of 16: Keras compiles one step


def regression(rng, units):
    return rng.normal(size=(SAMPLES, units)).astype("float32")


def targets(kind, rng, units):
    if kind == "regression":
        return regression(rng, units)
    if kind == "away_from_zero":
        return away_from_zero(rng, (SAMPLES, units))
    if kind == "positive":
        return np.abs(regression(rng, units))
    if kind == "binary":
        return binary(rng, (SAMPLES, units))
    if kind == "signed":
        return 2 * binary(rng, (SAMPLES, units)) - 1
    if kind == "counts":
        return rng.poisson(1.0, (SAMPLES, units)).astype("float32")
    if kind == "one_hot":
        return one_hot(rng, (SAMPLES, units))
    if kind == "distribution":
        return distribution(rng, (SAMPLES, units))
    if kind == "labels":
        return class_ids(rng, (SAMPLES, units))
    raise AssertionError(kind)


# id: (loss(lib), output units, output activation, targets)
TRAINING = {
    "mean_squared_error": (lambda lib: "mean_squared_error", 1, "linear", "regression"),
    "mean_absolute_error": (lambda lib: "mae", 2, "linear", "regression"),
    "mean_absolute_percentage_error": (lambda lib: "mape", 1, "linear", "away_from_zero"),
    "mean_squared_logarithmic_error_sum": (
        lambda lib: lib.losses.MeanSquaredLogarithmicError(reduction="sum"), 2, "linear",
        "positive"),
    "huber_delta": (lambda lib: lib.losses.Huber(delta=0.5), 1, "linear", "regression"),
    "log_cosh": (lambda lib: lib.losses.log_cosh, 2, "linear", "regression"),
    "binary_crossentropy_smoothing": (
        lambda lib: lib.losses.BinaryCrossentropy(label_smoothing=0.1), 1, "sigmoid", "binary"),
    "binary_crossentropy_logits": (
        lambda lib: lib.losses.BinaryCrossentropy(from_logits=True), 2, "linear", "binary"),
    "binary_focal_balanced": (
        lambda lib: lib.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4,
                                                       gamma=1.5), 2, "sigmoid", "binary"),
    "binary_focal_logits": (
        lambda lib: lib.losses.BinaryFocalCrossentropy(from_logits=True, label_smoothing=0.1),
        1, "linear", "binary"),
    "categorical_crossentropy_smoothing": (
        lambda lib: lib.losses.CategoricalCrossentropy(label_smoothing=0.2), 4, "softmax",
        "one_hot"),
    "categorical_crossentropy_logits": (
        lambda lib: lib.losses.CategoricalCrossentropy(from_logits=True), 4, "linear", "one_hot"),
    "sparse_categorical_crossentropy": (
        lambda lib: "sparse_categorical_crossentropy", 4, "softmax", "labels"),
    "sparse_categorical_crossentropy_logits_ignore_class": (
        lambda lib: lib.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        4, "linear", "labels"),
    "sparse_ignore_class_mean_with_sample_weight": (
        lambda lib: lib.losses.SparseCategoricalCrossentropy(
            ignore_class=3, reduction="mean_with_sample_weight"), 4, "softmax", "labels"),
    "kl_divergence": (lambda lib: "kld", 4, "softmax", "distribution"),
    "poisson": (lambda lib: lib.losses.Poisson(), 2, "sigmoid", "counts"),
    "hinge": (lambda lib: "hinge", 1, "tanh", "binary"),
    "squared_hinge_sum": (lambda lib: lib.losses.SquaredHinge(reduction="sum"), 2, "linear",
                          "signed"),
    "categorical_hinge": (lambda lib: "categorical_hinge", 4, "linear", "one_hot"),
    "cosine_similarity": (lambda lib: lib.losses.CosineSimilarity(), 3, "linear", "regression"),
}


def twin_models(keras, rng, units, activation):
    """The same MLP in Keras and ember: Keras's kernels, random biases."""
    def build(lib):
        return lib.Sequential([
            lib.Input((FEATURES,)),
            lib.layers.Dense(6, activation="tanh"),
            lib.layers.Dense(units, activation=activation),
        ])

    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model = build(keras)
    keras_model.set_weights([
        w if w.ndim == 2 else rng.normal(scale=0.1, size=w.shape).astype("float32")
        for w in keras_model.get_weights()
    ])
    ember_model = build(ember)
    ember_model.set_weights(keras_model.get_weights())
    return keras_model, ember_model


def assert_same_weights(keras_model, ember_model):
    for k, e in zip(keras_model.get_weights(), ember_model.get_weights(), strict=True):
        assert_weights_close(e, k, **WEIGHTS_TOL)


@pytest.mark.parametrize("case", list(TRAINING))
def test_fit_with_every_loss_matches_keras(keras, rng, case):
    loss, units, activation, kind = TRAINING[case]
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = targets(kind, rng, units)
    keras_model, ember_model = twin_models(keras, rng, units, activation)
    keras_model.compile(keras.optimizers.Adam(0.01), loss(keras))
    ember_model.compile(ember.optimizers.Adam(0.01), loss(ember))
    fit_args = {"batch_size": 16, "epochs": 3, "shuffle": False, "verbose": 0}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    assert_same_weights(keras_model, ember_model)
    np.testing.assert_allclose(ember_history["loss"], keras_history["loss"], rtol=LOSS_RTOL,
                               atol=1e-7)


# -- per-sample weights in the engine ----------------------------------------------------
def engine_fit(model, x, y, sample_weight, batch_size, epochs):
    """fit's engine loop with per-sample weights (what fit(sample_weight=) will call):
    the per-epoch mean loss."""
    xs = model._prepare_inputs(x)
    ys = model._prepare_targets(y, len(x))
    model._sync_compile(ys)
    model.optimizer.built = True
    steps = math.ceil(len(x) / batch_size)
    history = []
    for _ in range(epochs):
        model._core.reset_metrics()
        model._core.train_batches(xs, ys, None, batch_size, 0, steps,
                                  sample_weights=[sample_weight])
        history.append(model._core.metric_results()[0])
    return history


WEIGHTED_TRAINING = {
    "mean_squared_error": (lambda lib: "mse", 1, "linear", "regression"),
    "sparse_ignore_class_mean_with_sample_weight": TRAINING[
        "sparse_ignore_class_mean_with_sample_weight"],
}


@pytest.mark.parametrize("case", list(WEIGHTED_TRAINING))
def test_train_batches_with_sample_weights_matches_keras_fit(keras, rng, case):
    loss, units, activation, kind = WEIGHTED_TRAINING[case]
    samples = 40  # 16 + 16 + 8: a partial last batch
    x = rng.normal(size=(samples, FEATURES)).astype("float32")
    y = targets(kind, rng, units)[:samples]
    sample_weight = rng.uniform(0.1, 3.0, samples).astype("float32")
    keras_model, ember_model = twin_models(keras, rng, units, activation)
    keras_model.compile(keras.optimizers.Adam(0.01), loss(keras))
    ember_model.compile(ember.optimizers.Adam(0.01), loss(ember))

    keras_history = keras_model.fit(x, y, sample_weight=sample_weight, batch_size=16, epochs=3,
                                    shuffle=False, verbose=0).history
    ember_history = engine_fit(ember_model, x, y, sample_weight, 16, 3)

    assert_same_weights(keras_model, ember_model)
    np.testing.assert_allclose(ember_history, keras_history["loss"], rtol=LOSS_RTOL)


def test_test_batches_with_sample_weights_matches_keras_evaluate(keras, rng):
    x = rng.normal(size=(40, FEATURES)).astype("float32")
    y = targets("binary", rng, 2)[:40]
    sample_weight = rng.uniform(0.1, 3.0, 40).astype("float32")
    keras_model, ember_model = twin_models(keras, rng, 2, "linear")
    keras_model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    ember_model.compile("adam", ember.losses.BinaryCrossentropy(from_logits=True))
    ember_model.evaluate(x, y, verbose=0)  # hands compile to the engine

    expected = keras_model.evaluate(x, y, sample_weight=sample_weight, batch_size=16, verbose=0)
    xs, ys = ember_model._prepare_inputs(x), ember_model._prepare_targets(y, 40)
    ember_model._core.reset_metrics()
    ember_model._core.test_batches(xs, ys, 16, 0, 3, sample_weights=[sample_weight])

    assert ember_model._core.metric_results()[0] == pytest.approx(expected, rel=1e-6)


def test_sample_weights_spread_over_the_entries_of_a_sequence_output(rng):
    """An output of shape (T, C) has T losses per sample; each gets its sample's weight."""
    model = ember.Sequential([ember.Input((FEATURES,)), ember.layers.Dense(15),
                              ember.layers.Reshape((5, 3))])
    model.compile("sgd", ember.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = rng.normal(size=(10, FEATURES)).astype("float32")
    y = rng.integers(0, 3, (10, 5)).astype("float32")
    sample_weight = rng.uniform(0.1, 3.0, 10).astype("float32")
    model.evaluate(x, y, verbose=0)  # hands compile to the engine

    xs, ys = model._prepare_inputs(x), model._prepare_targets(y, 10)
    model._core.reset_metrics()
    model._core.test_batches(xs, ys, 4, 0, 3, sample_weights=[sample_weight])

    per_entry = reference("sparse_categorical_crossentropy", y, model.predict(x, verbose=0),
                          from_logits=True)
    weighted = per_entry * sample_weight[:, None]
    batches = [weighted[i:i + 4].mean() * len(weighted[i:i + 4]) for i in (0, 4, 8)]
    assert model._core.metric_results()[0] == pytest.approx(sum(batches) / 10, rel=1e-5)


def test_train_batches_rejects_sample_weights_of_the_wrong_length(rng):
    model = ember.Sequential([ember.Input((FEATURES,)), ember.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = rng.normal(size=(8, FEATURES)).astype("float32"), regression(rng, 1)[:8]
    model.evaluate(x, y, verbose=0)
    xs, ys = model._prepare_inputs(x), model._prepare_targets(y, 8)

    with pytest.raises(ValueError, match=r"sample_weight for output 0 must hold one weight"):
        model._core.train_batches(xs, ys, None, 4, 0, 2,
                                  sample_weights=[np.ones(7, "float32")])
    with pytest.raises(ValueError, match=r"model has 1 outputs, got 2 weight arrays"):
        model._core.test_batches(xs, ys, 4, 0, 2,
                                 sample_weights=[np.ones(8, "float32")] * 2)


# -- compile -----------------------------------------------------------------------------
@pytest.mark.parametrize("loss", [
    "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD", "bce", "BCE",
    "huber", "log_cosh", "poisson", "hinge", "squared_hinge", "categorical_hinge",
    "cosine_similarity", "binary_focal_crossentropy", "KLDivergence", "Huber", "LogCosh",
])
def test_compile_accepts_every_name_and_alias_keras_accepts(keras, loss):
    expected = keras.losses.get(loss)
    spec = ember.losses.engine_spec(loss)

    name = getattr(expected, "fn", expected).__name__
    assert spec.name == name


def test_engine_spec_carries_a_class_instance_arguments():
    loss = ember.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=3.0,
                                                from_logits=True, label_smoothing=0.2,
                                                reduction="sum")

    spec = ember.losses.engine_spec(loss, 0.5)

    assert (spec.name, spec.weight, spec.reduction) == ("binary_focal_crossentropy", 0.5, "sum")
    assert (spec.apply_class_balancing, spec.alpha, spec.gamma) == (True, 0.4, 3.0)
    assert (spec.from_logits, spec.label_smoothing) == (True, 0.2)


def test_a_python_loss_of_operators_trains_as_the_built_in_it_spells(rng):
    # Operators on y_true/y_pred record ember.ops, so this is mean squared error.
    x, y = normal(rng, (16, 3)), normal(rng, (16, 1))
    histories, start = [], None
    for loss in ("mse", lambda y_true, y_pred: (y_true - y_pred) ** 2):
        model = ember.Sequential([ember.Input((3,)), ember.layers.Dense(1)])
        if start is None:
            start = model.get_weights()
        model.set_weights(start)
        model.compile(ember.optimizers.SGD(0.1), loss)
        histories.append(model.fit(x, y, batch_size=4, epochs=2, shuffle=False,
                                   verbose=0).history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-6)


def test_compile_rejects_a_loss_that_is_not_a_loss():
    model = ember.Sequential([ember.Input((3,)), ember.layers.Dense(1)])
    with pytest.raises(ValueError, match="loss"):
        model.compile("sgd", 42)


def test_compile_rejects_reduction_none(rng):
    model = ember.Sequential([ember.Input((3,)), ember.layers.Dense(1)])
    model.compile("sgd", ember.losses.MeanSquaredError(reduction=None))

    with pytest.raises(ValueError, match=r"reduction=None.*training needs a scalar"):
        model.fit(normal(rng, (4, 3)), normal(rng, (4, 1)), verbose=0)


def test_compile_rejects_an_axis_other_than_the_last(rng):
    model = ember.Sequential([ember.Input((3,)), ember.layers.Dense(4, activation="softmax")])
    model.compile("sgd", ember.losses.CategoricalCrossentropy(axis=0))

    with pytest.raises(ValueError, match=r"axis=0.*computes losses over its last axis"):
        model.fit(normal(rng, (4, 3)), one_hot(rng, (4, 4)), verbose=0)


def test_fit_rejects_sparse_labels_out_of_range_but_not_the_ignored_class(rng):
    x = normal(rng, (6, 3))
    model = ember.Sequential([ember.Input((3,)), ember.layers.Dense(4, activation="softmax")])
    model.compile("sgd", ember.losses.SparseCategoricalCrossentropy(ignore_class=-1))
    model.fit(x, np.array([0, 1, -1, 3, -1, 2], "float32"), verbose=0)

    with pytest.raises(ValueError, match=r"Labels must be integers in \[0, 3\]"):
        model.fit(x, np.array([0, 1, 4, 3, -1, 2], "float32"), verbose=0)


# -- bad arguments -----------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: ember.losses.BinaryCrossentropy(label_smoothing=1.5), r"`label_smoothing`.*\[0"),
    (lambda: ember.losses.CategoricalCrossentropy(label_smoothing=-0.1), r"`label_smoothing`"),
    (lambda: ember.losses.Huber(delta=0.0), r"`delta`.*positive"),
    (lambda: ember.losses.Huber(delta=-1.0), r"`delta`.*positive"),
    (lambda: ember.losses.BinaryFocalCrossentropy(gamma=-1.0), r"`gamma`.*non-negative"),
    (lambda: ember.losses.BinaryFocalCrossentropy(alpha=1.5), r"`alpha`"),
    (lambda: ember.losses.MeanSquaredError(reduction="average"), r"`reduction`"),
    (lambda: ember.losses.SparseCategoricalCrossentropy(ignore_class=1.5), r"`ignore_class`"),
    (lambda: ember.losses.MeanSquaredError(dtype="float64"), r"float32"),
    (lambda: ember.losses.huber(np.ones(3), np.ones(3), delta=0.0), r"`delta`"),
])
def test_invalid_arguments_raise_value_error_naming_them(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("labels", [[0, 1, 4], [0, -1, 2], [0, 1.5, 2]])
def test_sparse_labels_out_of_range_raise_value_error(rng, labels):
    y_pred = unnormalised(rng, (3, 4))

    with pytest.raises(ValueError, match=r"sparse label .* not a class id .* 4 classes"):
        ember.losses.sparse_categorical_crossentropy(np.array(labels), y_pred)
    with pytest.raises(ValueError, match=r"sparse label"):
        ember.losses.SparseCategoricalCrossentropy()(np.array(labels), y_pred)


def test_ignore_class_may_lie_outside_the_classes(keras, rng):
    y_true, y_pred = np.array([0, 255, 2, 255], "float32"), unnormalised(rng, (4, 3))

    expected = keras.losses.SparseCategoricalCrossentropy(ignore_class=255)(y_true, y_pred)
    got = ember.losses.SparseCategoricalCrossentropy(ignore_class=255)(y_true, y_pred)

    assert float(got) == pytest.approx(float(expected), rel=1e-6)


def test_unknown_loss_names_raise_value_error():
    with pytest.raises(ValueError, match=r"Could not interpret loss identifier: huber_loss"):
        ember.losses.get("huber_loss")
    with pytest.raises(ValueError, match=r"Unknown loss: 'msee'"):
        ember._core.LossSpec("msee")


def test_mismatched_shapes_raise_value_error(rng):
    with pytest.raises(ValueError, match=r"must have the same shape"):
        ember.losses.categorical_crossentropy(one_hot(rng, (3, 4)), unnormalised(rng, (3, 5)))
    with pytest.raises(ValueError, match=r"cannot be broadcast"):
        ember.losses.mean_squared_error(normal(rng, (3, 4)), normal(rng, (5, 2)))


# -- the API as Keras has it ---------------------------------------------------------------
CLASS_NAMES = sorted({case[0] for case in CASES.values()})
FUNCTION_NAMES = sorted({case[1] for case in CASES.values()})


@pytest.mark.parametrize("name", CLASS_NAMES + FUNCTION_NAMES)
def test_signature_matches_keras(keras, name):
    ours, theirs = getattr(ember.losses, name), getattr(keras.losses, name)
    if inspect.isclass(ours):
        ours, theirs = ours.__init__, theirs.__init__

    assert inspect.signature(ours) == inspect.signature(theirs)


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_default_config_matches_keras(keras, name):
    expected = getattr(keras.losses, name)().get_config()
    got = getattr(ember.losses, name)().get_config()

    # ember also saves `delta` / `axis` where Keras drops them (they'd be lost otherwise).
    extra = {"Huber": {"delta"}, "CosineSimilarity": {"axis"},
             "SparseCategoricalCrossentropy": {"axis"}}.get(name, set())
    assert set(got) == set(expected) | extra
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_from_config_round_trips(name):
    loss = getattr(ember.losses, name)(reduction="sum", name="custom")

    again = type(loss).from_config(loss.get_config())

    assert again.get_config() == loss.get_config()
    assert ember.losses.engine_spec(again) == ember.losses.engine_spec(loss)


def test_non_default_arguments_survive_serialization():
    loss = ember.losses.Huber(delta=0.3, reduction="sum")

    again = ember.losses.deserialize(ember.losses.serialize(loss))

    assert isinstance(again, ember.losses.Huber)
    assert (again.delta, again.reduction) == (0.3, "sum")


def test_get_resolves_names_classes_configs_and_functions():
    assert ember.losses.get("mse") is ember.losses.mean_squared_error
    assert ember.losses.get("KLD") is ember.losses.kl_divergence
    assert isinstance(ember.losses.get("Huber"), ember.losses.Huber)
    loss = ember.losses.get({"class_name": "Huber", "config": {"delta": 3.0}})
    assert isinstance(loss, ember.losses.Huber) and loss.delta == 3.0
    assert ember.losses.get(ember.losses.poisson) is ember.losses.poisson
    assert ember.losses.get(None) is None


def test_loss_subclass_reduces_its_own_call(keras, rng):
    class Doubled(ember.losses.Loss):
        def call(self, y_true, y_pred):
            return 2 * np.mean(np.abs(y_true - y_pred), axis=-1)

    y_true, y_pred = normal(rng), normal(rng)
    sample_weight = rng.uniform(0.1, 2.0, ROWS).astype("float32")

    got = Doubled(reduction="sum")(y_true, y_pred, sample_weight=sample_weight)

    expected = keras.losses.MeanAbsoluteError(reduction="sum")(y_true, y_pred, sample_weight)
    assert float(got) == pytest.approx(2 * float(expected), rel=1e-6)
