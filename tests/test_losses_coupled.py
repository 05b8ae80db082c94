"""The losses issue 17 added - categorical focal and generalized crossentropy, Dice,
Tversky, Circle and CTC - against Keras 3 (jax): functions, classes with every
reduction and sample weights, the engine kernels' gradients against jax's autodiff of
Keras's loss, configs, and two epochs of training to the same weights."""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

ROWS, COLS = 10, 4
VALUE_TOL = {"rtol": 2e-5, "atol": 2e-6}
GRAD_TOL = {"rtol": 2e-4, "atol": 2e-6}
REDUCTIONS = ["sum_over_batch_size", "sum", "mean_with_sample_weight", None]


def probabilities(rng, shape=(ROWS, COLS)):
    return rng.uniform(0.05, 0.95, shape).astype("float32")


def distribution(rng, shape=(ROWS, COLS)):
    e = np.exp(rng.normal(size=shape))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


def one_hot(rng, shape=(ROWS, COLS)):
    return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], shape[:-1])]


def soft_labels(rng, shape=(ROWS, COLS)):
    return distribution(rng, shape)


def binary(rng, shape=(ROWS, COLS)):
    labels = (rng.random(shape) > 0.5).astype("float32")
    labels.flat[:2] = [0.0, 1.0]
    return labels


def class_ids(rng, shape=(ROWS, COLS)):
    return rng.integers(0, shape[-1], shape[:-1]).astype("float32")


def groups(rng, shape=(ROWS, COLS)):
    """Circle's labels: a few classes, each at least twice, one sample alone (no positive:
    Keras masks its value out of the reduction)."""
    labels = np.repeat(np.arange(shape[0] // 2), 2)[:shape[0]].astype("float32")
    labels[-1] = 99.0
    return rng.permutation(labels).astype("float32")


def embeddings(rng, shape=(ROWS, COLS)):
    x = rng.normal(size=shape)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype("float32")


def logits(rng, shape=(ROWS, COLS)):
    return rng.normal(size=shape).astype("float32")


T, CLASSES, LABELS = 7, 5, 3


def ctc_labels(rng, shape=None):
    """(ROWS, LABELS) labels in [1, CLASSES), 0-padded at the end to random lengths; some
    repeat a label (CTC then needs a blank between them)."""
    labels = rng.integers(1, CLASSES, (ROWS, LABELS)).astype("float32")
    labels[0, 1] = labels[0, 0]
    for r in range(ROWS):
        labels[r, rng.integers(1, LABELS + 1):] = 0.0
    return labels


def ctc_logits(rng, shape=None):
    return rng.normal(size=(ROWS, T, CLASSES)).astype("float32")


# case id: (class, function, class kwargs, function kwargs, y_true(rng), y_pred(rng))
CASES = {
    "focal": ("CategoricalFocalCrossentropy", "categorical_focal_crossentropy", {}, {},
              one_hot, distribution),
    "focal_soft_smoothed": ("CategoricalFocalCrossentropy", "categorical_focal_crossentropy",
                            {"alpha": 0.6, "gamma": 1.5, "label_smoothing": 0.2},
                            {"alpha": 0.6, "gamma": 1.5, "label_smoothing": 0.2},
                            soft_labels, probabilities),
    "focal_logits": ("CategoricalFocalCrossentropy", "categorical_focal_crossentropy",
                     {"from_logits": True, "gamma": 3.0}, {"from_logits": True, "gamma": 3.0},
                     one_hot, logits),
    "generalized": ("CategoricalGeneralizedCrossEntropy", "categorical_generalized_cross_entropy",
                    {"q": 0.7}, {"q": 0.7}, class_ids, distribution),
    "dice": ("Dice", "dice", {}, {}, binary, probabilities),
    "dice_rows": ("Dice", "dice", {"axis": -1}, {"axis": -1}, binary, probabilities),
    "tversky": ("Tversky", "tversky", {"alpha": 0.3, "beta": 0.7},
                {"alpha": 0.3, "beta": 0.7}, binary, probabilities),
    "tversky_rows": ("Tversky", "tversky", {"alpha": 0.8, "beta": 0.2, "axis": (1,)},
                     {"alpha": 0.8, "beta": 0.2, "axis": (1,)}, binary, probabilities),
    "circle": ("Circle", "circle", {"gamma": 8.0, "margin": 0.3}, {"gamma": 8.0, "margin": 0.3},
               groups, embeddings),
    "circle_default": ("Circle", "circle", {}, {}, groups, embeddings),
    "circle_diagonal": ("Circle", "circle", {"gamma": 4.0, "remove_diagonal": False},
                        {"gamma": 4.0, "remove_diagonal": False}, groups, embeddings),
    "ctc": ("CTC", "ctc", {}, {}, ctc_labels, ctc_logits),
}


def case_inputs(case, rng):
    cls, fn, kwargs, fn_kwargs, make_true, make_pred = CASES[case]
    return cls, fn, kwargs, fn_kwargs, make_true(rng), make_pred(rng)


@pytest.mark.parametrize("case", list(CASES))
def test_function_matches_keras(keras, rng, case):
    _, fn, _, fn_kwargs, y_true, y_pred = case_inputs(case, rng)

    expected = np.asarray(getattr(keras.losses, fn)(y_true, y_pred, **fn_kwargs))
    got = getattr(ember.losses, fn)(y_true, y_pred, **fn_kwargs)

    assert np.shape(got) == expected.shape
    np.testing.assert_allclose(got, expected, **VALUE_TOL)


# Every reduction with sample weights, and the default one without (the suite stays quick).
@pytest.mark.parametrize(("reduction", "weighted"),
                         [(r, True) for r in REDUCTIONS] + [("sum_over_batch_size", False)],
                         ids=[f"{r}-weighted" for r in REDUCTIONS] + ["unweighted"])
@pytest.mark.parametrize("case", list(CASES))
def test_class_matches_keras(keras, rng, case, reduction, weighted):
    cls, _, kwargs, _, y_true, y_pred = case_inputs(case, rng)
    sample_weight = rng.uniform(0.1, 2.0, ROWS).astype("float32") if weighted else None

    expected = getattr(keras.losses, cls)(**kwargs, reduction=reduction)(
        y_true, y_pred, sample_weight=sample_weight)
    got = getattr(ember.losses, cls)(**kwargs, reduction=reduction)(
        y_true, y_pred, sample_weight=sample_weight)

    np.testing.assert_allclose(got, np.asarray(expected), **VALUE_TOL)


def keras_value_and_grad(keras_loss, y_true, y_pred, sample_weight=None):
    import jax
    import jax.numpy as jnp

    value_and_grad = jax.jit(jax.value_and_grad(
        lambda p: keras_loss(y_true, p, sample_weight=sample_weight)))
    value, grad = value_and_grad(jnp.asarray(y_pred))
    return float(value), np.asarray(grad)


@pytest.mark.parametrize("reduction", REDUCTIONS[:3])
@pytest.mark.parametrize("case", list(CASES))
def test_kernel_value_and_gradient_match_jax_grad_of_keras(keras, rng, case, reduction):
    cls, _, kwargs, _, y_true, y_pred = case_inputs(case, rng)
    sample_weight = rng.uniform(0.1, 2.0, ROWS).astype("float32")
    keras_loss = getattr(keras.losses, cls)(**kwargs, reduction=reduction)
    ember_loss = getattr(ember.losses, cls)(**kwargs, reduction=reduction)

    expected_value, expected_grad = keras_value_and_grad(keras_loss, y_true, y_pred,
                                                         sample_weight)
    value, grad = ember.losses.loss_gradient(ember_loss, y_true, y_pred, sample_weight)

    assert value == pytest.approx(expected_value, rel=2e-5, abs=1e-6)
    np.testing.assert_allclose(grad, expected_grad, **GRAD_TOL)


@pytest.mark.parametrize("case", list(CASES))
def test_config_is_keras_and_round_trips(keras, case):
    cls, _, kwargs, _, _, _ = CASES[case]
    keras_loss = getattr(keras.losses, cls)(**kwargs)
    ember_loss = getattr(ember.losses, cls)(**kwargs)

    config = ember_loss.get_config()
    expected = keras_loss.get_config()
    if "axis" in expected and isinstance(expected["axis"], (list, tuple)):
        config["axis"] = list(config["axis"])
        expected["axis"] = list(expected["axis"])
    assert config == expected
    again = type(ember_loss).from_config(ember_loss.get_config())
    assert again.get_config() == ember_loss.get_config()


@pytest.mark.parametrize("name", ["categorical_focal_crossentropy", "dice", "tversky", "circle",
                                  "ctc", "CategoricalFocalCrossentropy", "Circle", "CTC"])
def test_names_resolve_as_in_keras(keras, name):
    assert callable(ember.losses.get(name))
    assert type(ember.losses.get(name)).__name__ == type(keras.losses.get(name)).__name__


def test_generalized_crossentropy_resolves_by_name():
    # Keras 3.15's lookup table lacks it (keras.losses.get raises); ember's has it.
    assert isinstance(ember.losses.get("CategoricalGeneralizedCrossEntropy"),
                      ember.losses.CategoricalGeneralizedCrossEntropy)


def test_bad_arguments_raise_clear_errors(rng):
    with pytest.raises(ValueError, match="q must be in the interval"):
        ember.losses.CategoricalGeneralizedCrossEntropy(q=1.5)
    with pytest.raises(ValueError, match="batch_size, max_length"):
        ember.losses.ctc(np.zeros((2, 3, 4), "float32"), np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="class id"):
        ember.losses.ctc(np.full((2, 2), 7.0, "float32"), logits(rng, (2, 3, 4)))
    with pytest.raises(ValueError, match="embeddings of shape"):
        ember.losses.circle(np.zeros(3), logits(rng, (3, 2, 2)))
    with pytest.raises(NotImplementedError, match="ref_labels"):
        ember.losses.circle(np.zeros(3), logits(rng, (3, 2)), ref_labels=np.zeros(3))
    with pytest.raises(ValueError, match="axis"):
        ember.losses.dice(binary(rng), probabilities(rng), axis=(0, 5))
    with pytest.raises(ValueError, match="scalar `alpha`"):
        ember.losses.CategoricalFocalCrossentropy(alpha=[0.1, 0.2, 0.3, 0.4])


def test_dice_over_all_but_the_batch_axis_matches_keras_on_images(keras, rng):
    y_true = binary(rng, (3, 4, 5, 2))
    y_pred = probabilities(rng, (3, 4, 5, 2))
    for axis in [(1, 2, 3), (1, 2), None, -1]:
        expected = np.asarray(keras.losses.dice(y_true, y_pred, axis=axis))
        np.testing.assert_allclose(ember.losses.dice(y_true, y_pred, axis=axis), expected,
                                   **VALUE_TOL)
    keras_loss = keras.losses.Dice(axis=(1, 2, 3))
    ember_loss = ember.losses.Dice(axis=(1, 2, 3))
    expected_value, expected_grad = keras_value_and_grad(keras_loss, y_true, y_pred)
    value, grad = ember.losses.loss_gradient(ember_loss, y_true, y_pred)
    assert value == pytest.approx(expected_value, rel=2e-5)
    np.testing.assert_allclose(grad, expected_grad, **GRAD_TOL)


# -- training: two epochs from the same weights -----------------------------------------
FEATURES, SAMPLES = 5, 48


def dense_model(lib, units, activation, normalize=False):
    layers = [lib.Input((FEATURES,)), lib.layers.Dense(6, activation="tanh"),
              lib.layers.Dense(units, activation=activation)]
    if normalize:
        layers.append(lib.layers.UnitNormalization())
    return lib.Sequential(layers)


def ctc_model(lib):
    return lib.Sequential([lib.Input((T, FEATURES)), lib.layers.Dense(8, activation="tanh"),
                           lib.layers.Dense(CLASSES)])


def training_targets(kind, rng):
    if kind == "one_hot":
        return one_hot(rng, (SAMPLES, 4))
    if kind == "ids":
        return class_ids(rng, (SAMPLES, 4))
    if kind == "binary":
        return binary(rng, (SAMPLES, 3))
    if kind == "groups":
        return rng.integers(0, 5, SAMPLES).astype("float32")
    labels = rng.integers(1, CLASSES, (SAMPLES, LABELS)).astype("float32")
    for r in range(SAMPLES):
        labels[r, rng.integers(1, LABELS + 1):] = 0.0
    return labels


# case: (loss(lib), model(lib), target kind, input shape)
TRAINING = {
    "focal": (lambda lib: lib.losses.CategoricalFocalCrossentropy(gamma=1.5),
              lambda lib: dense_model(lib, 4, "softmax"), "one_hot"),
    "focal_logits": (lambda lib: lib.losses.CategoricalFocalCrossentropy(from_logits=True),
                     lambda lib: dense_model(lib, 4, None), "one_hot"),
    "generalized": (lambda lib: lib.losses.CategoricalGeneralizedCrossEntropy(q=0.6),
                    lambda lib: dense_model(lib, 4, "softmax"), "ids"),
    "dice": (lambda lib: lib.losses.Dice(), lambda lib: dense_model(lib, 3, "sigmoid"),
             "binary"),
    "tversky_rows": (lambda lib: lib.losses.Tversky(alpha=0.7, beta=0.3, axis=-1),
                     lambda lib: dense_model(lib, 3, "sigmoid"), "binary"),
    "circle": (lambda lib: lib.losses.Circle(gamma=10.0),
               lambda lib: dense_model(lib, 4, None, normalize=True), "groups"),
    "ctc": (lambda lib: lib.losses.CTC(), ctc_model, "ctc"),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(TRAINING))
def test_fit_two_epochs_matches_keras(keras, rng, case, weighted):
    loss, model, kind = TRAINING[case]
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model = model(keras)
    ember_model = model(ember)
    ember_model.set_weights(keras_model.get_weights())
    shape = (SAMPLES, T, FEATURES) if kind == "ctc" else (SAMPLES, FEATURES)
    x = rng.normal(size=shape).astype("float32")
    y = training_targets(kind, rng)
    sample_weight = rng.uniform(0.2, 2.0, SAMPLES).astype("float32") if weighted else None
    keras_model.compile(keras.optimizers.Adam(0.01), loss(keras))
    ember_model.compile(ember.optimizers.Adam(0.01), loss(ember))
    fit_args = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0,
                "sample_weight": sample_weight}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    for k, e in zip(keras_model.get_weights(), ember_model.get_weights(), strict=True):
        assert_weights_close(e, k, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ember_history["loss"], keras_history["loss"], rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(ember_model.evaluate(x, y, verbose=0),
                               keras_model.evaluate(x, y, verbose=0), rtol=1e-4, atol=1e-6)


def test_ctc_refuses_metrics_that_read_targets_like_the_output(rng):
    model = ctc_model(ember)
    model.compile("adam", ember.losses.CTC(), metrics=["mae"])
    x = rng.normal(size=(8, T, FEATURES)).astype("float32")
    with pytest.raises(ValueError, match="label sequences"):
        model.fit(x, training_targets("ctc", rng)[:8], verbose=0)


def test_coupled_losses_refuse_data_that_does_not_fit(rng):
    model = dense_model(ember, 4, None)
    model.compile("adam", ember.losses.Circle())
    with pytest.raises(ValueError, match="integer labels of shape"):
        model.fit(rng.normal(size=(8, FEATURES)).astype("float32"),
                  rng.normal(size=(8, 4)).astype("float32"), verbose=0)
    model.compile("adam", ember.losses.CTC())
    with pytest.raises(ValueError, match="ctc expects"):
        model.fit(rng.normal(size=(8, FEATURES)).astype("float32"),
                  np.ones((8, 2), "float32"), verbose=0)
