"""ember.metrics against Keras 3 (jax backend): every metric class accumulated over
several random batches (with and without sample weights) gives Keras's result to
float32 rounding, resets, and configures as Keras's does; compiled into a model the
same metrics give Keras's History and evaluate values under Keras's names.

The engine sums in double where Keras keeps float32 variables, so results agree to
a few float32 ulps (rtol 1e-6); AUC and R2Score, whose results difference counts,
are compared at rtol 1e-5.
"""

import ember
import numpy as np
import pytest

RTOL = 1e-6
LOOSE = 1e-5  # AUC, R2Score: differences of accumulated counts
CLASSES = 5


# -- random batches (never zeros) ---------------------------------------------------------


def one_hot(rng, n):
    p = rng.random((n, CLASSES)).astype("float32") + 0.01
    labels = rng.integers(0, CLASSES, n)
    return np.eye(CLASSES, dtype="float32")[labels], p / p.sum(1, keepdims=True)


def sparse(rng, n):
    y, p = one_hot(rng, n)
    return np.argmax(y, 1).astype("float32"), p


def sparse_column(rng, n):
    y, p = sparse(rng, n)
    return y[:, None], p


def binary(rng, n):
    y_pred = rng.uniform(0.01, 0.99, (n, 3)).astype("float32")
    return (rng.random((n, 3)) > 0.5).astype("float32"), y_pred


def binary_column(rng, n):
    y_pred = rng.uniform(0.01, 0.99, (n, 1)).astype("float32")
    return (rng.random((n, 1)) > 0.5).astype("float32"), y_pred


def binary_flat(rng, n):
    y_pred = rng.uniform(0.01, 0.99, (n, 1)).astype("float32")
    return (rng.random(n) > 0.5).astype("float32"), y_pred


def logits(rng, n):
    return (rng.random((n, 3)) > 0.5).astype("float32"), rng.normal(size=(n, 3)).astype("float32")


def regression(rng, n):
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")


def regression_3d(rng, n):
    return (rng.normal(size=(n, 2, 3)).astype("float32"),
            rng.normal(size=(n, 2, 3)).astype("float32"))


def regression_flat(rng, n):
    return rng.normal(size=n).astype("float32"), rng.normal(size=n).astype("float32")


def small_integers(rng, n):
    return (rng.integers(0, 3, (n, 2)).astype("float32"),
            rng.integers(0, 3, (n, 2)).astype("float32"))


# (class name, constructor arguments, batches, rtol)
CASES = [
    ("Accuracy", {}, small_integers, RTOL),
    ("BinaryAccuracy", {}, binary, RTOL),
    ("BinaryAccuracy", {"threshold": 0.3}, binary, RTOL),
    ("BinaryAccuracy", {}, binary_flat, RTOL),
    ("CategoricalAccuracy", {}, one_hot, RTOL),
    ("SparseCategoricalAccuracy", {}, sparse, RTOL),
    ("SparseCategoricalAccuracy", {}, sparse_column, RTOL),
    ("TopKCategoricalAccuracy", {}, one_hot, RTOL),
    ("TopKCategoricalAccuracy", {"k": 2}, one_hot, RTOL),
    ("SparseTopKCategoricalAccuracy", {}, sparse, RTOL),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, sparse_column, RTOL),
    ("MeanAbsoluteError", {}, regression, RTOL),
    ("MeanAbsoluteError", {}, regression_3d, RTOL),
    ("MeanSquaredError", {}, regression, RTOL),
    ("RootMeanSquaredError", {}, regression, RTOL),
    ("RootMeanSquaredError", {}, regression_3d, RTOL),
    ("MeanAbsolutePercentageError", {}, regression, RTOL),
    ("AUC", {}, binary, LOOSE),
    ("AUC", {}, binary_flat, LOOSE),
    ("AUC", {"curve": "PR"}, binary, LOOSE),
    ("AUC", {"curve": "PRGAIN"}, binary, LOOSE),
    ("AUC", {"summation_method": "minoring"}, binary, LOOSE),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, binary, LOOSE),
    ("AUC", {"num_thresholds": 13}, binary, LOOSE),
    ("AUC", {"thresholds": [0.7, 0.2, 0.5]}, binary, LOOSE),
    ("AUC", {"thresholds": [0.25, 0.5, 0.75]}, binary, LOOSE),
    ("AUC", {"from_logits": True}, logits, LOOSE),
    ("AUC", {"multi_label": True}, binary, LOOSE),
    ("AUC", {"multi_label": True, "num_labels": 3, "label_weights": [1.0, 2.0, 0.5]}, binary,
     LOOSE),
    ("AUC", {"label_weights": [1.0, 2.0, 0.5], "curve": "PR"}, binary, LOOSE),
    ("Precision", {}, binary, RTOL),
    ("Precision", {}, binary_flat, RTOL),
    ("Precision", {"thresholds": [0.2, 0.5, 0.9]}, binary, RTOL),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, binary, RTOL),
    ("Precision", {"top_k": 2}, binary, RTOL),
    ("Precision", {"class_id": 1}, binary, RTOL),
    ("Precision", {"top_k": 2, "class_id": 2, "thresholds": 0.3}, binary, RTOL),
    ("Recall", {}, binary, RTOL),
    ("Recall", {"thresholds": [0.1, 0.6]}, binary, RTOL),
    ("Recall", {"top_k": 1}, one_hot, RTOL),
    ("Recall", {"class_id": 0}, binary, RTOL),
    ("F1Score", {}, one_hot, RTOL),
    ("F1Score", {"average": "micro"}, one_hot, RTOL),
    ("F1Score", {"average": "macro", "threshold": 0.4}, binary, RTOL),
    ("F1Score", {"average": "weighted"}, binary, RTOL),
    ("FBetaScore", {"beta": 2.0, "average": "macro"}, binary, RTOL),
    ("R2Score", {}, regression, LOOSE),
    ("R2Score", {"class_aggregation": None}, regression, LOOSE),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, regression, LOOSE),
    ("R2Score", {"num_regressors": 3}, regression, LOOSE),
]

# The batches a rank-1 batch makes one sample of take no per-sample weights in Keras.
UNWEIGHTABLE = {("MeanAbsoluteError", regression_flat)}


def case_id(case):
    name, kwargs, data, _ = case
    args = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({args})-{data.__name__}"


def assert_close(got, expected, rtol):
    expected = np.asarray(expected)
    got = np.asarray(got)
    assert got.shape == expected.shape, (got, expected)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-7)


def feed(metrics, rng, data, batches, weighted):
    for size in batches:
        y_true, y_pred = data(rng, size)
        weight = rng.uniform(0.1, 2.0, size).astype("float32") if weighted else None
        for m in metrics:
            m.update_state(y_true, y_pred, sample_weight=weight)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_metric_matches_keras(keras, rng, case, weighted):
    name, kwargs, data, rtol = case
    expected = getattr(keras.metrics, name)(**kwargs)
    got = getattr(ember.metrics, name)(**kwargs)
    feed([expected, got], rng, data, (9, 16, 7), weighted)
    assert_close(got.result(), expected.result(), rtol)

    # reset_state starts over: the next batches alone.
    expected.reset_state()
    got.reset_state()
    feed([expected, got], rng, data, (11, 6), weighted)
    assert_close(got.result(), expected.result(), rtol)


@pytest.mark.parametrize("name,data", [
    ("MeanAbsoluteError", regression_flat), ("MeanSquaredError", regression_flat),
    ("Accuracy", regression_flat), ("BinaryAccuracy", binary_column),
    ("RootMeanSquaredError", regression_flat)])
def test_rank_1_and_column_batches_match_keras(keras, rng, name, data):
    # Keras's MSE of a rank-1 batch is one value (the batch is one sample); an
    # element-wise metric counts each element.
    expected, got = getattr(keras.metrics, name)(), getattr(ember.metrics, name)()
    feed([expected, got], rng, data, (5, 8, 3), weighted=False)
    assert_close(got.result(), expected.result(), RTOL)


@pytest.mark.parametrize("name,data", [
    ("BinaryAccuracy", binary), ("RootMeanSquaredError", regression), ("Accuracy", small_integers),
    ("AUC", binary), ("Precision", binary), ("Recall", binary), ("R2Score", regression)])
def test_per_value_weights_match_keras(keras, rng, name, data):
    expected, got = getattr(keras.metrics, name)(), getattr(ember.metrics, name)()
    for size in (6, 9):
        y_true, y_pred = data(rng, size)
        weight = rng.uniform(0.1, 2.0, y_true.shape).astype("float32")
        expected.update_state(y_true, y_pred, sample_weight=weight)
        got.update_state(y_true, y_pred, sample_weight=weight)
    assert_close(got.result(), expected.result(), LOOSE)


@pytest.mark.parametrize("name,data", [
    ("MeanAbsoluteError", regression), ("BinaryAccuracy", binary),
    ("SparseCategoricalAccuracy", sparse), ("RootMeanSquaredError", regression_3d),
    ("AUC", binary), ("R2Score", regression)])
def test_column_and_scalar_weights_match_keras(keras, rng, name, data):
    expected, got = getattr(keras.metrics, name)(), getattr(ember.metrics, name)()
    for size, weight in ((6, "column"), (9, "scalar"), (4, "column")):
        y_true, y_pred = data(rng, size)
        w = (rng.uniform(0.1, 2.0, (size, 1)) if weight == "column"
             else np.float32(rng.uniform(0.1, 2.0))).astype("float32")
        expected.update_state(y_true, y_pred, sample_weight=w)
        got.update_state(y_true, y_pred, sample_weight=w)
    assert_close(got.result(), expected.result(), LOOSE)


def test_result_before_any_update_is_zero(keras):
    for name in ("MeanSquaredError", "AUC", "Precision", "Recall", "BinaryAccuracy"):
        assert float(ember.metrics.__dict__[name]().result()) == float(
            keras.metrics.__dict__[name]().result()) == 0.0


def test_vector_results_are_float32_arrays(rng):
    f1 = ember.metrics.F1Score()
    y_true, y_pred = one_hot(rng, 20)
    result = f1(y_true, y_pred)
    assert isinstance(result, np.ndarray) and result.dtype == np.float32
    assert result.shape == (CLASSES,)
    precision = ember.metrics.Precision(thresholds=[0.3, 0.6])
    assert precision(*binary(rng, 10)).shape == (2,)
    assert isinstance(ember.metrics.AUC()(*binary(rng, 10)), np.float32)


# -- the function forms -----------------------------------------------------------------------

FUNCTIONS = [
    ("binary_accuracy", {}, binary), ("binary_accuracy", {"threshold": 0.7}, binary),
    ("categorical_accuracy", {}, one_hot), ("sparse_categorical_accuracy", {}, sparse),
    ("top_k_categorical_accuracy", {"k": 2}, one_hot),
    ("sparse_top_k_categorical_accuracy", {}, sparse),
    ("sparse_top_k_categorical_accuracy", {"k": 1}, sparse_column),
    ("mean_absolute_error", {}, regression), ("mean_squared_error", {}, regression),
    ("mean_absolute_percentage_error", {}, regression),
]


@pytest.mark.parametrize("name,kwargs,data", FUNCTIONS,
                         ids=[f"{n}{k or ''}" for n, k, _ in FUNCTIONS])
def test_function_forms_match_keras(keras, rng, name, kwargs, data):
    y_true, y_pred = data(rng, 12)
    expected = np.asarray(getattr(keras.metrics, name)(y_true, y_pred, **kwargs))
    got = getattr(ember.metrics, name)(y_true, y_pred, **kwargs)
    assert_close(got, expected, RTOL)


# -- configuration ----------------------------------------------------------------------------

CONFIGS = [
    ("Accuracy", {}), ("BinaryAccuracy", {"threshold": 0.3}), ("CategoricalAccuracy", {}),
    ("SparseCategoricalAccuracy", {}), ("TopKCategoricalAccuracy", {"k": 3}),
    ("SparseTopKCategoricalAccuracy", {"k": 2}),
    ("SparseTopKCategoricalAccuracy", {"from_sorted_ids": True}), ("MeanAbsoluteError", {}),
    ("MeanSquaredError", {}), ("RootMeanSquaredError", {}), ("MeanAbsolutePercentageError", {}),
    ("AUC", {}), ("AUC", {"num_thresholds": 50, "curve": "PR", "summation_method": "minoring",
                          "from_logits": True}),
    ("AUC", {"thresholds": [0.3, 0.6], "multi_label": True, "num_labels": 2}),
    ("Precision", {}), ("Precision", {"thresholds": [0.2, 0.4], "class_id": 1}),
    ("Recall", {"top_k": 3}), ("F1Score", {}), ("F1Score", {"average": "macro", "threshold": 0.6}),
    ("FBetaScore", {"beta": 0.5}), ("R2Score", {}),
    ("R2Score", {"class_aggregation": None, "num_regressors": 2}),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}{k or ''}" for n, k in CONFIGS])
def test_get_config_matches_keras_and_round_trips(keras, name, kwargs):
    expected = getattr(keras.metrics, name)(name="m", **kwargs).get_config()
    got = getattr(ember.metrics, name)(name="m", **kwargs).get_config()
    assert got == expected
    clone = getattr(ember.metrics, name).from_config(got)
    assert clone.get_config() == got


@pytest.mark.parametrize("kwargs", [{}, {"num_thresholds": 7}, {"thresholds": [0.7, 0.1, 0.4]}])
def test_auc_thresholds_match_keras(keras, kwargs):
    # The engine's list, end points included, as Keras's AUC.thresholds gives it.
    assert ember.metrics.AUC(**kwargs).thresholds == list(keras.metrics.AUC(**kwargs).thresholds)


def test_default_names_follow_keras(keras):
    # Fixed names for the wrappers; auto-numbered (auc, auc_1, ...) for the others.
    for name in ("MeanAbsoluteError", "TopKCategoricalAccuracy", "F1Score", "FBetaScore",
                 "R2Score", "RootMeanSquaredError"):
        assert getattr(ember.metrics, name)().name == getattr(keras.metrics, name)().name
    for name, prefix in (("AUC", "auc"), ("Precision", "precision"), ("Recall", "recall")):
        first = getattr(ember.metrics, name)().name
        second = getattr(ember.metrics, name)().name
        assert first == prefix or first.startswith(prefix + "_")
        suffix = int(first.rsplit("_", 1)[1]) if first != prefix else 0
        assert second == f"{prefix}_{suffix + 1}"


def test_get_accepts_keras_names():
    assert isinstance(ember.metrics.get("AUC"), ember.metrics.AUC)
    assert isinstance(ember.metrics.get("auc"), ember.metrics.AUC)
    assert isinstance(ember.metrics.get("mape"), ember.metrics.MeanAbsolutePercentageError)
    assert isinstance(ember.metrics.get("top_k_categorical_accuracy"),
                      ember.metrics.TopKCategoricalAccuracy)
    assert isinstance(ember.metrics.get("r2_score"), ember.metrics.R2Score)
    assert isinstance(ember.metrics.get(ember.metrics.Recall), ember.metrics.Recall)
    with pytest.raises(ValueError, match="metric identifier: bogus"):
        ember.metrics.get("bogus")


# -- bad input ------------------------------------------------------------------------------------


def test_sparse_top_k_rejects_labels_out_of_range(rng):
    y_true, y_pred = sparse(rng, 8)
    metric = ember.metrics.SparseTopKCategoricalAccuracy(k=2)
    metric.update_state(y_true, y_pred)
    before = metric.result()
    y_true[3] = CLASSES
    with pytest.raises(ValueError, match="out of range"):
        metric.update_state(y_true, y_pred)
    assert metric.result() == before  # the bad batch left no trace
    y_true[3] = -1
    with pytest.raises(ValueError, match="out of range"):
        metric.update_state(y_true, y_pred)
    with pytest.raises(ValueError, match="out of range"):
        ember.metrics.sparse_top_k_categorical_accuracy(y_true, y_pred)


@pytest.mark.parametrize("name", ["MeanSquaredError", "BinaryAccuracy", "CategoricalAccuracy",
                                  "AUC", "Precision", "F1Score", "R2Score"])
def test_mismatched_shapes_raise(rng, name):
    y_true, y_pred = regression(rng, 6)
    with pytest.raises(ValueError, match="shape"):
        getattr(ember.metrics, name)().update_state(y_true[:, :2], y_pred)
    with pytest.raises(ValueError, match="shape"):
        getattr(ember.metrics, name)().update_state(y_true[:4], y_pred)


def test_sparse_labels_must_line_up(rng):
    y_true, y_pred = sparse(rng, 6)
    with pytest.raises(ValueError, match="class id"):
        ember.metrics.SparseCategoricalAccuracy().update_state(y_true[:5], y_pred)


def test_bad_sample_weight_raises(rng):
    y_true, y_pred = regression(rng, 6)
    with pytest.raises(ValueError, match="sample_weight"):
        ember.metrics.MeanSquaredError().update_state(y_true, y_pred, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="sample_weight"):
        ember.metrics.F1Score().update_state(y_true, y_pred, sample_weight=np.ones((6, 3)))


def test_per_class_metrics_keep_their_width(rng):
    f1 = ember.metrics.F1Score()
    f1.update_state(*one_hot(rng, 6))
    with pytest.raises(ValueError, match="classes"):
        f1.update_state(*binary(rng, 6))


@pytest.mark.parametrize("make,match", [
    (lambda: ember.metrics.AUC(num_thresholds=1), "num_thresholds"),
    (lambda: ember.metrics.AUC(curve="XY"), "curve"),
    (lambda: ember.metrics.AUC(summation_method="up"), "summation"),
    (lambda: ember.metrics.AUC(num_labels=3), "num_labels"),
    (lambda: ember.metrics.Precision(thresholds=[0.5, 1.5]), r"\[0, 1\]"),
    (lambda: ember.metrics.F1Score(average="mean"), "average"),
    (lambda: ember.metrics.F1Score(threshold=1), "threshold"),
    (lambda: ember.metrics.R2Score(class_aggregation="all"), "class_aggregation"),
    (lambda: ember.metrics.R2Score(num_regressors=-1), "num_regressors"),
])
def test_bad_arguments_raise_like_keras(keras, make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_rank_requirements_raise(rng):
    y_true, y_pred = regression_3d(rng, 4)
    with pytest.raises(ValueError, match="2D"):
        ember.metrics.R2Score().update_state(y_true, y_pred)
    with pytest.raises(ValueError, match="rank 2"):
        ember.metrics.AUC(multi_label=True).update_state(y_true > 0, y_pred)
    y_true, y_pred = regression_flat(rng, 4)
    with pytest.raises(ValueError, match="class_id"):
        ember.metrics.Precision(class_id=1).update_state(y_true > 0, y_pred)


# -- in compile: fit and evaluate against Keras ------------------------------------------------

SAMPLES, FEATURES = 70, 6  # batches of 16: the last one is partial
FIT = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0}


def twins(keras, rng, units, activation):
    def build(lib):
        return lib.Sequential([lib.Input((FEATURES,)), lib.layers.Dense(8, activation="tanh"),
                               lib.layers.Dense(units, activation=activation)])
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model, ember_model = build(keras), build(ember)
    ember_model.set_weights(keras_model.get_weights())
    return keras_model, ember_model


TASKS = {
    # name: (loss, output units, activation, targets from the rng)
    "binary": ("binary_crossentropy", 1, "sigmoid",
               lambda rng: (rng.random((SAMPLES, 1)) > 0.5).astype("float32")),
    "multilabel": ("binary_crossentropy", 3, "sigmoid",
                   lambda rng: (rng.random((SAMPLES, 3)) > 0.5).astype("float32")),
    "categorical": ("categorical_crossentropy", 4, "softmax",
                    lambda rng: np.eye(4, dtype="float32")[rng.integers(0, 4, SAMPLES)]),
    "sparse": ("sparse_categorical_crossentropy", 4, "softmax",
               lambda rng: rng.integers(0, 4, SAMPLES)),
    "regression": ("mse", 2, None, lambda rng: rng.normal(size=(SAMPLES, 2)).astype("float32")),
}

# task: metrics, as (keras metric, ember metric) makers; strings go to both as they are.
COMPILED = {
    "binary": ["accuracy", "AUC", "auc", "precision", "recall", "binary_accuracy",
               ("AUC", {"curve": "PR", "name": "pr_auc"}), ("AUC", {"name": "auc_obj"}),
               ("Precision", {"thresholds": [0.3, 0.7], "name": "p2"}),
               ("F1Score", {"average": "micro", "name": "f1"})],
    "multilabel": ["acc", ("AUC", {"multi_label": True, "name": "ml_auc"}),
                   ("Recall", {"class_id": 2, "name": "r2"}),
                   ("F1Score", {"average": "micro", "threshold": 0.5, "name": "f1m"}),
                   ("Precision", {"top_k": 2, "name": "ptop"})],
    "categorical": ["accuracy", "top_k_categorical_accuracy", "categorical_accuracy",
                    ("TopKCategoricalAccuracy", {"k": 2, "name": "top2"}), "F1Score",
                    ("F1Score", {"average": "weighted", "name": "f1w"})],
    "sparse": ["acc", "sparse_top_k_categorical_accuracy", "sparse_categorical_accuracy",
               ("SparseTopKCategoricalAccuracy", {"k": 2, "name": "top2"})],
    "regression": ["mae", "mse", "mape", "MAE", "mean_absolute_percentage_error",
                   "root_mean_squared_error", "RootMeanSquaredError", "r2_score",
                   ("R2Score", {"class_aggregation": None, "name": "r2_each"}), "R2Score"],
}


def metric_pair(keras, spec):
    if isinstance(spec, str):
        return spec, spec
    name, kwargs = spec
    return getattr(keras.metrics, name)(**kwargs), getattr(ember.metrics, name)(**kwargs)


def assert_same_logs(got, expected, rtol=LOOSE):
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        expected_value = np.asarray(value, dtype=np.float64)
        if key == "loss" or key.endswith("_loss"):
            np.testing.assert_allclose(np.asarray(got[key], np.float64), expected_value, rtol=2e-5)
        else:
            assert_close(np.asarray(got[key], np.float64), expected_value, rtol)


@pytest.mark.parametrize("task", list(COMPILED))
def test_compiled_metrics_match_keras(keras, rng, task):
    loss, units, activation, targets = TASKS[task]
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = targets(rng)
    keras_model, ember_model = twins(keras, rng, units, activation)
    pairs = [metric_pair(keras, spec) for spec in COMPILED[task]]
    keras_model.compile("adam", loss, metrics=[k for k, _ in pairs])
    ember_model.compile("adam", loss, metrics=[e for _, e in pairs])

    keras_history = keras_model.fit(x, y, **FIT).history
    ember_history = ember_model.fit(x, y, validation_data=None, **FIT).history
    assert_same_logs(ember_history, keras_history)

    expected = keras_model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    got = ember_model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert_same_logs(got, expected)
    listed = ember_model.evaluate(x, y, batch_size=16, verbose=0)
    keras_listed = keras_model.evaluate(x, y, batch_size=16, verbose=0)
    assert len(listed) == len(keras_listed)
    for g, e in zip(listed, keras_listed):
        assert_close(np.asarray(g, np.float64), np.asarray(e, np.float64), LOOSE)


def test_compiled_metric_objects_hold_the_last_results(keras, rng):
    loss, units, activation, targets = TASKS["multilabel"]
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = targets(rng)
    _, model = twins(keras, rng, units, activation)
    auc, f1 = ember.metrics.AUC(name="auc"), ember.metrics.F1Score(name="f1")
    model.compile("adam", loss, metrics=[auc, f1])
    history = model.fit(x, y, **FIT).history
    # A vector result is logged as a float32 array, as Keras's History holds it.
    assert isinstance(history["f1"][0], np.ndarray) and history["f1"][0].shape == (3,)
    logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert auc.result() == logs["auc"]
    np.testing.assert_array_equal(f1.result(), logs["f1"])
    # The same object standalone on the same data: the same number.
    auc.reset_state()
    auc.update_state(y, model.predict(x, verbose=0))
    assert auc.result() == pytest.approx(logs["auc"], rel=1e-6)


def test_repeated_names_are_numbered_like_keras(keras, rng):
    loss, units, activation, targets = TASKS["binary"]
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = targets(rng)
    keras_model, ember_model = twins(keras, rng, units, activation)
    metrics = ["auc", "auc", "AUC", "accuracy", "auc"]
    keras_model.compile("adam", loss, metrics=metrics)
    ember_model.compile("adam", loss, metrics=metrics)
    expected = keras_model.evaluate(x, y, verbose=0, return_dict=True)
    got = ember_model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(got) == sorted(expected) == ["AUC", "accuracy", "auc", "auc_1", "auc_2", "loss"]
    assert_same_logs(got, expected)
    # Keras lists by the metrics' own names: "auc" three times, then what is left, sorted.
    keras_listed = keras_model.evaluate(x, y, verbose=0)
    listed = ember_model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(listed, keras_listed, rtol=LOOSE)


def test_weighted_metrics_match_keras(keras, rng):
    loss, units, activation, targets = TASKS["regression"]
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = targets(rng)
    weights = rng.uniform(0.1, 2.0, SAMPLES).astype("float32")
    keras_model, ember_model = twins(keras, rng, units, activation)
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile("adam", loss, metrics=["mae", "r2_score"],
                      weighted_metrics=["mae", "mse", lib.metrics.R2Score(name="r2w")])
    keras_history = keras_model.fit(x, y, sample_weight=weights, **FIT).history
    ember_history = ember_model.fit(x, y, sample_weight=weights, **FIT).history
    assert "weighted_mae" in ember_history
    assert_same_logs(ember_history, keras_history)
    expected = keras_model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    got = ember_model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    assert_same_logs(got, expected)


def test_multi_output_metric_names_match_keras(keras, rng):
    def build(lib):
        inputs = lib.Input((FEATURES,), name="x")
        hidden = lib.layers.Dense(8, activation="tanh")(inputs)
        a = lib.layers.Dense(1, activation="sigmoid", name="a")(hidden)
        b = lib.layers.Dense(3, activation="softmax", name="b")(hidden)
        return lib.Model(inputs, [a, b])
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model, ember_model = build(keras), build(ember)
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    ya = (rng.random((SAMPLES, 1)) > 0.5).astype("float32")
    yb = rng.integers(0, 3, SAMPLES)
    for model in (keras_model, ember_model):
        model.compile("adam", ["binary_crossentropy", "sparse_categorical_crossentropy"],
                      metrics={"a": ["AUC", "accuracy"], "b": ["accuracy",
                                                              "sparse_top_k_categorical_accuracy"]})
    expected = keras_model.fit(x, [ya, yb], **FIT).history
    got = ember_model.fit(x, [ya, yb], **FIT).history
    assert "a_AUC" in got and "b_sparse_top_k_categorical_accuracy" in got
    assert_same_logs(got, expected)


def test_compile_rejects_unknown_and_unsupported_metrics(rng):
    model = ember.Sequential([ember.Input((FEATURES,)), ember.layers.Dense(1)])
    with pytest.raises(ValueError, match="metric identifier: aucc"):
        model.compile("adam", "mse", metrics=["aucc"])
    with pytest.raises(ValueError, match="metric identifier: nope"):
        model.compile("adam", "mse", weighted_metrics=["nope"])
    with pytest.raises(ValueError, match="list, tuple, or dict"):
        model.compile("adam", "mse", metrics="mae")


def test_compile_rejects_metrics_that_do_not_fit_the_targets(rng):
    x = rng.normal(size=(20, FEATURES)).astype("float32")
    labels = rng.integers(0, 4, 20)
    model = ember.Sequential([ember.Input((FEATURES,)),
                              ember.layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["categorical_accuracy"])
    with pytest.raises(ValueError, match="class ids"):
        model.fit(x, labels, verbose=0)
    model.compile("adam", "categorical_crossentropy",
                  metrics=["sparse_top_k_categorical_accuracy"])
    with pytest.raises(ValueError, match="class ids"):
        model.fit(x, np.eye(4, dtype="float32")[labels], verbose=0)
