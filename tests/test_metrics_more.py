"""The rest of keras.metrics against Keras 3 (jax backend): the loss-function metrics
(crossentropies, hinges, KL divergence, Poisson, log-cosh, MSLE, cosine similarity),
the correlations, the confusion counts, the rates at a constraint (PrecisionAtRecall,
...) and the IoU family - standalone over several random batches (with and without
sample weights), in compile/fit/evaluate, their configs, and their engine states.
"""

import ember
import numpy as np
import pytest
from test_metrics import FIT, LOOSE, RTOL, SAMPLES, assert_same_logs, twins

CLASSES = 4


# -- random batches (never zeros) ---------------------------------------------------------


def probabilities(rng, n):
    p = rng.random((n, CLASSES)).astype("float32") + 0.01
    return p / p.sum(1, keepdims=True)


def one_hot(rng, n):
    return np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, n)], probabilities(rng, n)


def one_hot_logits(rng, n):
    y, _ = one_hot(rng, n)
    return y, rng.normal(size=(n, CLASSES)).astype("float32")


def sparse(rng, n):
    return rng.integers(0, CLASSES, n).astype("float32"), probabilities(rng, n)


def sparse_column(rng, n):
    y, p = sparse(rng, n)
    return y[:, None], p


def sparse_logits(rng, n):
    y, _ = sparse(rng, n)
    return y, rng.normal(size=(n, CLASSES)).astype("float32")


def binary(rng, n):
    y_pred = rng.uniform(0.01, 0.99, (n, 3)).astype("float32")
    return (rng.random((n, 3)) > 0.5).astype("float32"), y_pred


def binary_flat(rng, n):
    return (rng.random(n) > 0.5).astype("float32"), rng.uniform(0.01, 0.99, n).astype("float32")


def binary_logits(rng, n):
    y, _ = binary(rng, n)
    return y, rng.normal(size=(n, 3)).astype("float32")


def signed(rng, n):  # hinge labels in {-1, 1}
    y, _ = binary(rng, n)
    return 2 * y - 1, rng.normal(size=(n, 3)).astype("float32")


def regression(rng, n):
    return rng.normal(size=(n, 5)).astype("float32"), rng.normal(size=(n, 5)).astype("float32")


def regression_3d(rng, n):
    return (rng.normal(size=(n, 2, 5)).astype("float32"),
            rng.normal(size=(n, 2, 5)).astype("float32"))


def positive(rng, n):
    return (rng.uniform(0.1, 3.0, (n, 5)).astype("float32"),
            rng.uniform(0.1, 3.0, (n, 5)).astype("float32"))


def ids(rng, n):  # class ids for both, as the sparse IoU metrics take them
    return (rng.integers(0, CLASSES, n).astype("float32"),
            rng.integers(0, CLASSES, n).astype("float32"))


def ids_2d(rng, n):
    return (rng.integers(0, CLASSES, (n, 3)).astype("float32"),
            rng.integers(0, CLASSES, (n, 3)).astype("float32"))


# (class name, constructor arguments, batches, rtol)
CASES = [
    ("BinaryCrossentropy", {}, binary, RTOL),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, binary_logits, RTOL),
    ("CategoricalCrossentropy", {}, one_hot, RTOL),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, one_hot, RTOL),
    ("CategoricalCrossentropy", {"from_logits": True}, one_hot_logits, RTOL),
    ("SparseCategoricalCrossentropy", {}, sparse, RTOL),
    ("SparseCategoricalCrossentropy", {}, sparse_column, RTOL),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, sparse_logits,
     RTOL),
    ("Hinge", {}, binary, RTOL),
    ("Hinge", {}, signed, RTOL),
    ("SquaredHinge", {}, signed, RTOL),
    ("SquaredHinge", {}, binary, RTOL),
    ("CategoricalHinge", {}, one_hot, RTOL),
    ("KLDivergence", {}, one_hot, RTOL),
    ("Poisson", {}, positive, RTOL),
    ("LogCoshError", {}, regression, RTOL),
    ("LogCoshError", {}, regression_3d, RTOL),
    ("MeanSquaredLogarithmicError", {}, positive, RTOL),
    ("CosineSimilarity", {}, regression, RTOL),
    ("CosineSimilarity", {"axis": 1}, regression_3d, RTOL),
    ("PearsonCorrelation", {}, regression, LOOSE),
    ("PearsonCorrelation", {}, regression_3d, LOOSE),
    ("ConcordanceCorrelation", {}, regression, LOOSE),
    ("TruePositives", {}, binary, RTOL),
    ("TruePositives", {"thresholds": [0.2, 0.5, 0.9]}, binary, RTOL),
    ("TrueNegatives", {"thresholds": [0.0, 0.5, 1.0]}, binary, RTOL),
    ("FalsePositives", {}, binary_flat, RTOL),
    ("FalsePositives", {"thresholds": 0.7}, binary, RTOL),
    ("FalseNegatives", {"thresholds": [0.3, 0.6]}, binary, RTOL),
    ("PrecisionAtRecall", {"recall": 0.6}, binary, LOOSE),
    ("PrecisionAtRecall", {"recall": 0.3, "num_thresholds": 1}, binary, LOOSE),
    ("RecallAtPrecision", {"precision": 0.55, "num_thresholds": 50}, binary, LOOSE),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, binary_flat, LOOSE),
    ("SpecificityAtSensitivity", {"sensitivity": 0.4, "class_id": 1}, binary, LOOSE),
    ("IoU", {"num_classes": CLASSES, "target_class_ids": [0, 2]}, ids, RTOL),
    ("MeanIoU", {"num_classes": CLASSES}, ids_2d, RTOL),
    ("MeanIoU", {"num_classes": CLASSES, "ignore_class": 0, "dtype": "float32"}, ids, RTOL),
    ("MeanIoU", {"num_classes": CLASSES, "sparse_y_pred": False}, sparse, RTOL),
    ("OneHotIoU", {"num_classes": CLASSES, "target_class_ids": [1, 3]}, one_hot, RTOL),
    ("OneHotMeanIoU", {"num_classes": CLASSES}, one_hot, RTOL),
    ("OneHotMeanIoU", {"num_classes": CLASSES, "dtype": "float32"}, one_hot, RTOL),
    ("BinaryIoU", {}, binary, RTOL),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, binary_flat, RTOL),
]


def assert_close(got, expected, rtol):
    # atol: Keras's float32 counts (confusion buckets summed up, differences of totals)
    # carry rounding of a few ulps of the largest count.
    expected, got = np.asarray(expected), np.asarray(got)
    assert got.shape == expected.shape, (got, expected)
    atol = 1e-7 + 4e-7 * float(np.max(np.abs(expected), initial=0.0))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


# The IoU metrics of ids in several columns weigh each id (Keras flattens both).
PER_VALUE_WEIGHTS = {"IoU", "MeanIoU", "BinaryIoU"}


def case_id(case):
    name, kwargs, data, _ = case
    args = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({args})-{data.__name__}"


def feed(metrics, rng, data, batches, weighted, per_value=False):
    for size in batches:
        y_true, y_pred = data(rng, size)
        # Weights up to 2.5: the IoU metrics' integer dtype truncates them to 0, 1 or 2.
        shape = y_true.shape if per_value else size
        weight = rng.uniform(0.1, 2.5, shape).astype("float32") if weighted else None
        for m in metrics:
            m.update_state(y_true, y_pred, sample_weight=weight)


@pytest.mark.filterwarnings("ignore:You are passing weight as `float`")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_metric_matches_keras(keras, rng, case, weighted):
    name, kwargs, data, rtol = case
    expected = getattr(keras.metrics, name)(**kwargs)
    got = getattr(ember.metrics, name)(**kwargs)
    per_value = name in PER_VALUE_WEIGHTS
    feed([expected, got], rng, data, (9, 16), weighted, per_value)
    assert_close(got.result(), expected.result(), rtol)
    if data is not regression_3d:  # (there the engine counts rows, Keras samples)
        for e, g in zip(expected.variables, got.variables):  # the state, in Keras's layout
            np.testing.assert_allclose(np.ravel(g), np.ravel(e), rtol=1e-5, atol=1e-5)

    expected.reset_state()
    got.reset_state()
    feed([expected, got], rng, data, (11,), weighted, per_value)
    assert_close(got.result(), expected.result(), rtol)


def test_the_constraint_metrics_follow_keras_on_tied_scores(keras, rng):
    # Scores on a coarse grid put many predictions on the thresholds themselves.
    y_true = (rng.random(200) > 0.4).astype("float32")
    y_pred = (rng.integers(0, 11, 200) / 10).astype("float32")
    for name, value in (("PrecisionAtRecall", 0.8), ("RecallAtPrecision", 0.6),
                        ("SensitivityAtSpecificity", 0.7), ("SpecificityAtSensitivity", 0.9)):
        for num_thresholds in (11, 21, 200):
            expected = getattr(keras.metrics, name)(value, num_thresholds=num_thresholds)
            got = getattr(ember.metrics, name)(value, num_thresholds=num_thresholds)
            assert got(y_true, y_pred) == pytest.approx(float(expected(y_true, y_pred)), rel=1e-6)


def test_iou_leaves_out_class_ids_out_of_range_as_keras(keras, rng):
    y_true = rng.integers(-1, CLASSES + 2, 40).astype("float32")
    y_pred = rng.integers(-1, CLASSES + 2, 40).astype("float32")
    expected, got = keras.metrics.MeanIoU(CLASSES), ember.metrics.MeanIoU(CLASSES)
    assert_close(got(y_true, y_pred), expected(y_true, y_pred), RTOL)


def test_vector_results_for_several_thresholds(rng):
    metric = ember.metrics.TruePositives(thresholds=[0.3, 0.6])
    result = metric(*binary(rng, 10))
    assert isinstance(result, np.ndarray) and result.shape == (2,)
    assert isinstance(ember.metrics.TruePositives()(*binary(rng, 10)), np.float32)


# -- the function forms -----------------------------------------------------------------------

ALIASES = ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "binary_focal_crossentropy", "hinge", "squared_hinge", "categorical_hinge", "huber",
           "kl_divergence", "log_cosh", "mean_squared_logarithmic_error", "poisson"]


@pytest.mark.parametrize("name", ALIASES)
def test_loss_function_aliases_are_the_losses(keras, name):
    # As in Keras, keras.metrics.hinge is keras.losses.hinge.
    assert getattr(keras.metrics, name) is getattr(keras.losses, name)
    assert getattr(ember.metrics, name) is getattr(ember.losses, name)


@pytest.mark.parametrize("name", ["pearson_correlation", "concordance_correlation"])
@pytest.mark.parametrize("axis,data", [(-1, regression), (1, regression_3d), (0, regression)])
def test_correlation_functions_match_keras(keras, rng, name, axis, data):
    y_true, y_pred = data(rng, 12)
    expected = np.asarray(getattr(keras.metrics, name)(y_true, y_pred, axis=axis))
    got = getattr(ember.metrics, name)(y_true, y_pred, axis=axis)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# -- configuration ----------------------------------------------------------------------------

CONFIGS = [
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}),
    ("CategoricalCrossentropy", {"axis": 1}), ("SparseCategoricalCrossentropy", {}),
    ("SparseCategoricalCrossentropy", {"ignore_class": 3, "from_logits": True}),
    ("Hinge", {}), ("SquaredHinge", {}), ("CategoricalHinge", {}), ("KLDivergence", {}),
    ("Poisson", {}), ("LogCoshError", {}), ("MeanSquaredLogarithmicError", {}),
    ("CosineSimilarity", {"axis": 1}), ("PearsonCorrelation", {"axis": 0}),
    ("ConcordanceCorrelation", {}), ("TruePositives", {}),
    ("TrueNegatives", {"thresholds": [0.2, 0.4]}), ("FalsePositives", {"thresholds": 0.3}),
    ("FalseNegatives", {}), ("PrecisionAtRecall", {"recall": 0.3}),
    ("RecallAtPrecision", {"precision": 0.8, "num_thresholds": 20, "class_id": 2}),
    ("SensitivityAtSpecificity", {"specificity": 0.1}),
    ("SpecificityAtSensitivity", {"sensitivity": 0.9, "num_thresholds": 7}),
    ("IoU", {"num_classes": 3, "target_class_ids": [0, 2], "ignore_class": 1}),
    ("MeanIoU", {"num_classes": 5, "sparse_y_pred": False}),
    ("OneHotIoU", {"num_classes": 3, "target_class_ids": [1]}),
    ("OneHotMeanIoU", {"num_classes": 4, "dtype": "float32"}),
    ("BinaryIoU", {}), ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.7}),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}{k or ''}" for n, k in CONFIGS])
def test_get_config_matches_keras_and_round_trips(keras, name, kwargs):
    expected = getattr(keras.metrics, name)(name="m", **kwargs).get_config()
    got = getattr(ember.metrics, name)(name="m", **kwargs).get_config()
    assert got == expected
    clone = getattr(ember.metrics, name).from_config(got)
    assert clone.get_config() == got


def test_default_names_follow_keras(keras):
    for name in ("BinaryCrossentropy", "LogCoshError", "KLDivergence", "CosineSimilarity",
                 "PearsonCorrelation", "SparseCategoricalCrossentropy"):
        assert getattr(ember.metrics, name)().name == getattr(keras.metrics, name)().name
    for make, prefix in ((lambda lib: lib.metrics.TruePositives(), "true_positives"),
                         (lambda lib: lib.metrics.PrecisionAtRecall(0.5), "precision_at_recall"),
                         (lambda lib: lib.metrics.MeanIoU(3), "mean_io_u"),
                         (lambda lib: lib.metrics.BinaryIoU(), "binary_io_u")):
        assert make(ember).name.startswith(prefix) and make(keras).name.startswith(prefix)


def test_thresholds_match_keras(keras):
    for name, args in (("SensitivityAtSpecificity", (0.5,)), ("PrecisionAtRecall", (0.5, 9))):
        np.testing.assert_allclose(getattr(ember.metrics, name)(*args).thresholds,
                                   getattr(keras.metrics, name)(*args).thresholds, rtol=1e-7)
    assert ember.metrics.TruePositives([0.1, 0.4]).thresholds == [0.1, 0.4]


def test_get_accepts_keras_names():
    for name, cls in (("binary_crossentropy", "BinaryCrossentropy"), ("bce", "BinaryCrossentropy"),
                      ("BCE", "BinaryCrossentropy"), ("msle", "MeanSquaredLogarithmicError"),
                      ("log_cosh_error", "LogCoshError"), ("KLDivergence", "KLDivergence"),
                      ("true_positives", "TruePositives"), ("cosine_similarity",
                                                            "CosineSimilarity"),
                      ("pearson_correlation", "PearsonCorrelation")):
        assert type(ember.metrics.get(name)).__name__ == cls


@pytest.mark.parametrize("make,match", [
    (lambda m: m.PrecisionAtRecall(1.5), "recall"),
    (lambda m: m.RecallAtPrecision(-0.1), "precision"),
    (lambda m: m.SensitivityAtSpecificity(0.5, num_thresholds=0), "num_thresholds"),
    (lambda m: m.TruePositives(thresholds=[0.5, 2.0]), r"\[0, 1\]"),
    (lambda m: m.IoU(3, [0, 3]), "out of range"),
    (lambda m: m.BinaryCrossentropy(label_smoothing=2.0), "label_smoothing"),
])
def test_bad_arguments_raise(keras, make, match):
    with pytest.raises(ValueError, match=match):
        make(ember.metrics)


def test_bad_input_raises(rng):
    y_true, y_pred = one_hot(rng, 6)
    with pytest.raises(ValueError, match="shape"):
        ember.metrics.KLDivergence().update_state(y_true[:, :2], y_pred)
    with pytest.raises(ValueError, match="class id"):
        ember.metrics.SparseCategoricalCrossentropy().update_state(y_true[:, 0] + 9, y_pred)
    with pytest.raises(ValueError, match="sample_weight"):
        ember.metrics.MeanIoU(CLASSES).update_state(*ids(rng, 6), sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="one-hot"):
        ember.metrics.OneHotMeanIoU(CLASSES).update_state(y_true[:, :3], y_pred)


# -- the engine state: what data-parallel ranks sum -------------------------------------------

STATE_CASES = [
    ("BinaryCrossentropy", {}, binary), ("SparseCategoricalCrossentropy", {"ignore_class": 0},
                                         sparse),
    ("PearsonCorrelation", {}, regression), ("TruePositives", {"thresholds": [0.3, 0.6]}, binary),
    ("SpecificityAtSensitivity", {"sensitivity": 0.5}, binary),
    ("RecallAtPrecision", {"precision": 0.5, "num_thresholds": 1}, binary),
    ("MeanIoU", {"num_classes": CLASSES, "dtype": "float32"}, ids),
    ("OneHotIoU", {"num_classes": CLASSES, "target_class_ids": [0, 1]}, one_hot),
    ("BinaryIoU", {}, binary_flat),
]


@pytest.mark.parametrize("name,kwargs,data", STATE_CASES,
                         ids=[f"{n}{k or ''}" for n, k, _ in STATE_CASES])
def test_summed_states_give_the_result_of_all_batches(rng, name, kwargs, data):
    # Two "ranks" see a shard each; the sum of their states is the state of one metric
    # that saw both shards, as Model.metric_results allreduces it.
    make = lambda: getattr(ember.metrics, name)(**kwargs)  # noqa: E731
    whole, first, second = make(), make(), make()
    for size in (9, 14):
        y_true, y_pred = data(rng, size)
        weight = rng.uniform(0.5, 2.0, size).astype("float32")
        half = size // 2
        whole.update_state(y_true, y_pred, sample_weight=weight)
        first.update_state(y_true[:half], y_pred[:half], sample_weight=weight[:half])
        second.update_state(y_true[half:], y_pred[half:], sample_weight=weight[half:])
    summed = make()
    summed._core.set_state(np.add(first._core.state(), second._core.state()).tolist())
    np.testing.assert_allclose(summed.result(), whole.result(), rtol=1e-6, atol=1e-7)
    # And a state set back gives the same result.
    copy = make()
    copy._core.set_state(whole._core.state())
    assert np.array_equal(copy.result(), whole.result())
    with pytest.raises(ValueError, match="state"):
        copy._core.set_state(whole._core.state()[:-1] if len(whole._core.state()) > 3 else [])


# -- in compile: fit and evaluate against Keras ------------------------------------------------

FEATURES = 6

TASKS = {
    "binary": ("binary_crossentropy", 1, "sigmoid",
               lambda rng: (rng.random((SAMPLES, 1)) > 0.5).astype("float32")),
    "categorical": ("categorical_crossentropy", CLASSES, "softmax",
                    lambda rng: np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES,
                                                                              SAMPLES)]),
    "sparse": ("sparse_categorical_crossentropy", CLASSES, "softmax",
               lambda rng: rng.integers(0, CLASSES, SAMPLES)),
    "regression": ("mse", 5, None, lambda rng: rng.normal(size=(SAMPLES, 5)).astype("float32")),
}

# task: metrics as (class name, kwargs) or strings / function names given to both.
COMPILED = {
    "binary": ["binary_crossentropy", "bce", "hinge", "squared_hinge", "poisson",
               ("TruePositives", {"name": "tp"}),
               ("FalseNegatives", {"thresholds": [0.3, 0.6], "name": "fn"}),
               ("TrueNegatives", {"name": "tn"}), ("FalsePositives", {"name": "fp"}),
               ("PrecisionAtRecall", {"recall": 0.5, "name": "p_at_r"}),
               ("SensitivityAtSpecificity", {"specificity": 0.5, "name": "s_at_s"}),
               ("BinaryIoU", {"name": "biou"}),
               ("BinaryCrossentropy", {"label_smoothing": 0.1, "name": "bce_smooth"}),
               ("fn", "binary_crossentropy"), ("fn", "binary_focal_crossentropy"),
               ("wrap", ("binary_focal_crossentropy", {"gamma": 3.0, "alpha": 0.4,
                                                       "apply_class_balancing": True,
                                                       "name": "focal"})),
               ("wrap", ("binary_crossentropy", {"from_logits": False, "label_smoothing": 0.2,
                                                 "name": "bce_wrapped"}))],
    "categorical": ["categorical_crossentropy", "kl_divergence", "categorical_hinge",
                    ("OneHotMeanIoU", {"num_classes": CLASSES, "name": "miou"}),
                    ("OneHotIoU", {"num_classes": CLASSES, "target_class_ids": [0, 2],
                                   "name": "iou02"}),
                    ("RecallAtPrecision", {"precision": 0.3, "class_id": 1, "name": "r_at_p"}),
                    ("SpecificityAtSensitivity", {"sensitivity": 0.4, "name": "sp_at_se"}),
                    ("fn", "categorical_crossentropy"), ("fn", "kl_divergence")],
    "sparse": ["sparse_categorical_crossentropy",
               ("SparseCategoricalCrossentropy", {"ignore_class": 0, "name": "scce0"}),
               ("MeanIoU", {"num_classes": CLASSES, "sparse_y_pred": False, "name": "miou"}),
               ("fn", "sparse_categorical_crossentropy")],
    "regression": ["msle", "MSLE", "log_cosh_error", "cosine_similarity", "pearson_correlation",
                   "concordance_correlation", "LogCoshError",
                   ("CosineSimilarity", {"name": "cos"}), ("fn", "huber"), ("fn", "log_cosh"),
                   ("fn", "pearson_correlation"), ("fn", "mean_squared_logarithmic_error"),
                   ("wrap", ("huber", {"delta": 0.5, "name": "huber_half"}))],
}


def metric_pair(keras, spec):
    if isinstance(spec, str):
        return spec, spec
    name, arg = spec
    if name == "fn":
        return getattr(keras.metrics, arg), getattr(ember.metrics, arg)
    if name == "wrap":  # MeanMetricWrapper(fn, **kwargs) of one of Keras's functions
        fn, kwargs = arg
        return tuple(lib.metrics.MeanMetricWrapper(getattr(lib.metrics, fn), **kwargs)
                     for lib in (keras, ember))
    return getattr(keras.metrics, name)(**arg), getattr(ember.metrics, name)(**arg)


@pytest.mark.parametrize("task", list(COMPILED))
def test_compiled_metrics_match_keras(keras, rng, task):
    # Every other metric is a weighted one: it takes fit's sample weights, the others not.
    loss, units, activation, targets = TASKS[task]
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = targets(rng)
    weights = rng.uniform(0.1, 2.0, SAMPLES).astype("float32")
    keras_model, ember_model = twins(keras, rng, units, activation)
    pairs = [metric_pair(keras, spec) for spec in COMPILED[task]]
    for model, side in ((keras_model, 0), (ember_model, 1)):
        model.compile("adam", loss, metrics=[p[side] for p in pairs[::2]],
                      weighted_metrics=[p[side] for p in pairs[1::2]])

    keras_history = keras_model.fit(x, y, sample_weight=weights, **FIT).history
    ember_history = ember_model.fit(x, y, sample_weight=weights, **FIT).history
    assert_same_logs(ember_history, keras_history)

    expected = keras_model.evaluate(x, y, sample_weight=weights, batch_size=16, verbose=0,
                                    return_dict=True)
    got = ember_model.evaluate(x, y, sample_weight=weights, batch_size=16, verbose=0,
                               return_dict=True)
    assert_same_logs(got, expected)


def test_compile_rejects_iou_targets_that_do_not_fit(rng):
    model = ember.Sequential([ember.Input((FEATURES,)), ember.layers.Dense(CLASSES)])
    with pytest.raises(ValueError, match="metric"):
        model.compile("adam", "sparse_categorical_crossentropy",
                      metrics=[ember.metrics.OneHotMeanIoU(CLASSES)])
        model.fit(rng.normal(size=(8, FEATURES)).astype("float32"),
                  rng.integers(0, CLASSES, 8), verbose=0)
