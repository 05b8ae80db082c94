"""`ember.metrics`: Keras 3's metrics.

Each class wraps the engine's `_core.Metric`, which keeps the running state in C++
(sums in double). Standalone, `update_state` / `result` / `reset_state` call it
directly; `compile(metrics=[...])` hands the same C++ objects to the model, so
training accumulates with the same code - and a metric object passed to compile
reads what the last fit or evaluate accumulated, as in Keras.

The functions (`binary_accuracy`, `top_k_categorical_accuracy`, ...) are Keras's
function forms: per-sample values as NumPy float32 arrays.
"""

import warnings

import numpy as np

from ember import _core
from ember.layers.layer import to_snake_case, unique_name

# Keras's metrics module offers these loss functions under the same names.
from ember.losses import (  # noqa: F401 - re-exported
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
    squeeze_or_expand_to_same_rank,
)

_EPSILON = np.float32(1e-7)


def _float32(x, what):
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be numeric, got {type(x).__name__}: {e}") from None


def _pair(y_true, y_pred):
    """float32 (y_true, y_pred) of one shape, after Keras's squeeze/expand rule."""
    y_pred = _float32(y_pred, "y_pred")
    y_true = _float32(y_true, "y_true")
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got y_true.shape="
                         f"{y_true.shape} and y_pred.shape={y_pred.shape}")
    return y_true, y_pred


def _sparse_labels(y_true, y_pred):
    """Class ids lined up with y_pred's rows: y_true of shape y_pred.shape[:-1], or that
    with a trailing 1."""
    y_pred = _float32(y_pred, "y_pred")
    y_true = _float32(y_true, "y_true")
    if y_pred.ndim < 1:
        raise ValueError(f"y_pred must have a class axis, got shape {y_pred.shape}")
    lead = y_pred.shape[:-1]
    if y_true.shape not in (lead, lead + (1,)):
        raise ValueError(f"y_true must hold one class id per row of y_pred: shape {lead} (or "
                         f"{lead + (1,)}), got y_true.shape={y_true.shape} for y_pred.shape="
                         f"{y_pred.shape}")
    return y_true.reshape(lead), y_pred


def _one_hot_labels(y_true, y_pred):
    y_pred = _float32(y_pred, "y_pred")
    y_true = _float32(y_true, "y_true")
    if y_true.shape != y_pred.shape or y_pred.ndim < 1:
        raise ValueError(f"y_true (one-hot) and y_pred must have the same shape, got y_true.shape="
                         f"{y_true.shape} and y_pred.shape={y_pred.shape}")
    return y_true, y_pred


def _in_top_k(labels, y_pred, k):
    """jax's in_top_k: the label's prediction ranks among the k largest, ties in its
    favour; a NaN prediction ranks last."""
    at = np.take_along_axis(y_pred, labels[..., None], axis=-1)
    at = np.where(np.isnan(at), -np.inf, at)
    rank = 1 + np.sum(y_pred > at, axis=-1)
    return rank <= k


# -- the function forms -----------------------------------------------------------------


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _pair(y_true, y_pred)
    return ((y_pred > np.float32(threshold)).astype(np.float32) == y_true).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    y_true, y_pred = _one_hot_labels(y_true, y_pred)
    return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = _sparse_labels(y_true, y_pred)
    return (np.argmax(y_pred, -1).astype(np.float32) == y_true).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true, y_pred = _one_hot_labels(y_true, y_pred)
    return _in_top_k(np.argmax(y_true, -1), y_pred, k).astype(np.float32)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    shape = np.shape(y_true)  # Keras keeps a label column's shape here
    y_true, y_pred = _sparse_labels(y_true, y_pred)
    if from_sorted_ids:
        hits = np.any(y_pred[..., :k] == y_true[..., None], axis=-1)
    else:
        _check_class_ids(y_true, y_pred.shape[-1], "sparse_top_k_categorical_accuracy")
        hits = _in_top_k(y_true.astype(np.int64), y_pred, k)
    return hits.astype(np.float32).reshape(shape if len(shape) > 1 else hits.shape)


def _check_class_ids(labels, classes, what):
    bad = ~((labels > -1) & (labels < classes))
    if np.any(bad):
        raise ValueError(f"{what}: label {labels[bad].flat[0]!r} is out of range for {classes} "
                         f"classes; labels must be in [0, {classes})")


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    diff = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), _EPSILON))
    return np.float32(100.0) * np.mean(diff, axis=-1)


# -- sample weights ---------------------------------------------------------------------


def _mean_weights(sample_weight, values_shape, rows):
    """Per-value weights that make the engine's weighted row sums Keras's Mean.

    Keras lines sample_weight up with the values' leading axes, averages each
    sample's values over the axes the weight lacks, and counts each weight once (a
    scalar weight counts the whole batch as one sample). The engine counts every one
    of its `rows` rows, so each weight is divided by the rows per sample (by all rows
    for a scalar). Returns the weights broadcast to `values_shape`."""
    w = _float32(sample_weight, "sample_weight")
    if w.ndim == 0:
        return np.full(values_shape, w / np.float32(max(rows, 1)), np.float32)
    if len(values_shape) == 0:
        raise ValueError(f"sample_weight of shape {w.shape} does not fit a batch that gives one "
                         "value (y_true and y_pred of rank 1 are one sample)")
    if len(values_shape) == w.ndim + 1 and values_shape[-1] == 1:
        w = w[..., None]
    elif w.ndim == len(values_shape) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    if w.ndim > len(values_shape):
        raise ValueError(f"sample_weight of shape {w.shape} has more axes than the values of "
                         f"shape {tuple(values_shape)}")
    try:
        w = np.broadcast_to(w.reshape(w.shape + (1,) * (len(values_shape) - w.ndim)),
                            values_shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {np.shape(sample_weight)} cannot be broadcast "
                         f"to the values' shape {tuple(values_shape)}") from None
    samples = values_shape[0]
    per_sample = rows // samples if samples else 1
    return np.ascontiguousarray(w / np.float32(max(per_sample, 1)), np.float32)


def _confusion_weights(sample_weight, y_true):
    """Keras's update_confusion_matrix_variables: the weight gains a trailing axis,
    loses it again when that lines it up with y_true, and broadcasts like NumPy."""
    w = _float32(sample_weight, "sample_weight")[..., None]
    _, w = squeeze_or_expand_to_same_rank(y_true, w, expand_rank_1=False)
    try:
        return np.ascontiguousarray(np.broadcast_to(w, y_true.shape), np.float32)
    except ValueError:
        raise ValueError(f"sample_weight of shape {np.shape(sample_weight)} cannot be broadcast "
                         f"to y_true of shape {y_true.shape}") from None


# -- the classes --------------------------------------------------------------------------


class Metric:
    """Keras's Metric: a named, stateful value with `update_state`, `result` and
    `reset_state`. The built-in metrics keep their state in the engine."""

    def __init__(self, dtype=None, name=None):
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._dtype = _dtype_name(dtype)

    @property
    def dtype(self):
        return self._dtype

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        """Sets every variable `add_variable` made back to zeros, as Keras's does."""
        for variable in self.variables:
            variable.assign(np.zeros(variable.shape, np.float32))

    # -- Keras's subclassing API: state in variables ----------------------------------
    @property
    def variables(self):
        return list(self.__dict__.get("_metric_variables", []))

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A state variable of this metric (a subclass's counts and sums), as Keras's
        `Metric.add_variable`. In `compile`, a subclass's update_state runs in Python
        once per batch (see the README's "Custom metrics")."""
        from ember import _core as core
        from ember import initializers
        from ember.variables import Variable

        if aggregation not in ("none", "mean", "sum", "only_first_replica"):
            raise ValueError(f"Invalid value for argument `aggregation`: {aggregation!r}")
        shape = tuple(int(d) for d in (shape or ()))
        value = np.asarray(initializers.get(initializer)(shape), np.float32)
        own = self.__dict__.setdefault("_metric_variables", [])
        name = name or f"variable_{len(own)}"
        variable = Variable(core.Variable(name, value, False), f"{self.name}/{name}")
        own.append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras's older name for add_variable."""
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"

    __str__ = __repr__


def _dtype_name(dtype):
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = (dtype.get("config") or {}).get("name", "float32")
    name = getattr(dtype, "name", dtype)
    return name if isinstance(name, str) else np.dtype(name).name


class _EngineMetric(Metric):
    """A metric whose state is the engine's `_core.Metric` of kind `_kind`."""

    _kind = None

    def __init__(self, name=None, dtype=None, **engine_args):
        super().__init__(dtype=dtype, name=name)
        self._core = _core.Metric(self._kind, **engine_args)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, weights = self._prepare(y_true, y_pred, sample_weight)
        self._core.update(y_pred, y_true, weights)

    def _prepare(self, y_true, y_pred, sample_weight):
        """(y_true, y_pred as (rows, classes), None or weights per row or per value)."""
        raise NotImplementedError

    def result(self):
        values = self._core.result()
        dtype = self._result_dtype()
        if self._core.vector_result:
            return np.asarray(values, dtype=dtype)
        return dtype.type(values[0] if values else 0.0)

    def _result_dtype(self):
        try:
            dtype = np.dtype(self._dtype)
        except TypeError:
            return np.dtype(np.float32)
        return dtype if dtype.kind == "f" else np.dtype(np.float32)

    def reset_state(self):
        self._core.reset()

    @property
    def variables(self):
        """The state, in the order and under the names of Keras's variables."""
        return [np.asarray(v, np.float32) for _, v in self._core.variables()]


class _MeanOfRows(_EngineMetric):
    """Keras's MeanMetricWrapper of a function with one value per row of y_pred."""

    def _lined_up(self, y_true, y_pred):
        return _pair(y_true, y_pred)

    def _prepare(self, y_true, y_pred, sample_weight):
        y_true, y_pred = self._lined_up(y_true, y_pred)
        if y_pred.ndim == 0:
            raise ValueError(f"{self.name}: y_pred must have at least one axis")
        values_shape = y_pred.shape[:-1]  # (): a rank-1 batch is one sample, as in Keras
        rows = int(np.prod(values_shape, dtype=np.int64))
        cols = y_pred.shape[-1]
        weights = None
        if sample_weight is not None:
            weights = _mean_weights(sample_weight, values_shape, rows).reshape(rows)
        target_cols = 1 if self._core.sparse_targets else cols
        return y_true.reshape(rows, target_cols), y_pred.reshape(rows, cols), weights


class _MeanOfValues(_EngineMetric):
    """Keras's Mean of one value per element (accuracies, squared errors): each
    sample is the mean of its values."""

    def _prepare(self, y_true, y_pred, sample_weight):
        y_true, y_pred = _pair(y_true, y_pred)
        if y_pred.ndim == 0:
            y_true, y_pred = y_true.reshape(1), y_pred.reshape(1)
        samples = y_pred.shape[0]
        cols = y_pred.size // samples if samples else 1
        weights = None
        if sample_weight is not None:
            weights = _mean_weights(sample_weight, y_pred.shape, samples).reshape(samples, cols)
        return y_true.reshape(samples, cols), y_pred.reshape(samples, cols), weights


class Accuracy(_MeanOfValues):
    _kind = "accuracy"
    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryAccuracy(_MeanOfValues):
    _kind = "binary_accuracy"
    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name=name, dtype=dtype, threshold=float(threshold))
        self.threshold = threshold

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(_MeanOfRows):
    _kind = "categorical_accuracy"
    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _lined_up(self, y_true, y_pred):
        return _one_hot_labels(y_true, y_pred)


class SparseCategoricalAccuracy(_MeanOfRows):
    _kind = "sparse_categorical_accuracy"
    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _lined_up(self, y_true, y_pred):
        return _sparse_labels(y_true, y_pred)


class TopKCategoricalAccuracy(_MeanOfRows):
    _kind = "top_k_categorical_accuracy"
    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype, k=int(k))
        self.k = k

    def _lined_up(self, y_true, y_pred):
        return _one_hot_labels(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(_MeanOfRows):
    _kind = "sparse_top_k_categorical_accuracy"
    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(name=name, dtype=dtype, k=int(k), from_sorted_ids=bool(from_sorted_ids))
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def _lined_up(self, y_true, y_pred):
        return _sparse_labels(y_true, y_pred)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


class MeanSquaredError(_MeanOfRows):
    _kind = "mean_squared_error"
    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsoluteError(_MeanOfRows):
    _kind = "mean_absolute_error"
    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsolutePercentageError(_MeanOfRows):
    _kind = "mean_absolute_percentage_error"
    _direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class RootMeanSquaredError(_MeanOfValues):
    _kind = "root_mean_squared_error"
    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class Mean(_EngineMetric):
    """The running (weighted) mean of the values given to `update_state(values)`."""

    _kind = "mean"

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _values(self, values, sample_weight):
        v = _float32(values, "values")
        if v.ndim == 0:
            v = v.reshape(1)
            if sample_weight is not None and np.ndim(sample_weight) == 0:
                sample_weight = np.reshape(sample_weight, (1,))
        samples = v.shape[0]
        cols = v.size // samples if samples else 1
        weights = None
        if sample_weight is not None:
            weights = self._weights(sample_weight, v.shape, samples).reshape(samples, cols)
        return v.reshape(samples, cols), weights

    _weights = staticmethod(_mean_weights)

    def update_state(self, values, sample_weight=None):
        v, weights = self._values(values, sample_weight)
        self._core.update(v, None, weights)


class Sum(Mean):
    """The running (weighted) sum of the values given to `update_state(values)`."""

    _kind = "sum"

    def __init__(self, name="sum", dtype=None):
        _EngineMetric.__init__(self, name=name, dtype=dtype)

    @staticmethod
    def _weights(sample_weight, values_shape, samples):
        # Sum adds every weighted value: the weights broadcast, not averaged.
        return _mean_weights(sample_weight, values_shape, samples) * np.float32(
            max(samples, 1) if np.ndim(sample_weight) == 0 else 1)


class MeanMetricWrapper(Mean):
    """The running mean of `fn(y_true, y_pred, **kwargs)`: computed in NumPy when used
    directly; in `compile`, `fn` (written with ember.ops) is recorded into a graph the
    engine runs on every batch - or, for one of Keras's metric and loss functions, the
    engine's metric of that function computes it (the wrapper object itself then does not
    hold the compiled results)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        _EngineMetric.__init__(self, name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self):
        from ember.saving import serialization_lib
        return {"name": self.name, "dtype": self.dtype,
                "fn": serialization_lib.serialize_keras_object(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.pop("fn")
        if not callable(fn):
            from ember.saving import serialization_lib
            fn = serialization_lib.deserialize_keras_object(fn, module_objects=globals())
        return cls(fn, **config)


class _ConfusionMetric(_EngineMetric):
    """Precision, Recall and AUC: y_true and y_pred of one shape, counted per value."""

    def _prepare(self, y_true, y_pred, sample_weight):
        y_pred = _float32(y_pred, "y_pred")
        y_true = _float32(y_true, "y_true")
        y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true and y_pred must have the same shape, got "
                             f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
        weights = None
        if sample_weight is not None:
            weights = _confusion_weights(sample_weight, y_true)
        self._check_rank(y_pred)
        if y_pred.ndim == 0 or (y_pred.ndim == 1 and getattr(self, "top_k", None) is None):
            shape = (y_pred.size, 1)  # one value per row
        elif y_pred.ndim == 1:
            shape = (1, y_pred.size)  # top_k over the whole vector, as Keras's last axis
        else:
            cols = max(y_pred.shape[-1], 1)
            shape = (y_pred.size // cols, cols)
        return (y_true.reshape(shape), y_pred.reshape(shape),
                None if weights is None else weights.reshape(shape))

    def _check_rank(self, y_pred):
        pass


def _to_list(x):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return [x]


class _PrecisionRecall(_ConfusionMetric):
    _direction = "up"
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype,
                         thresholds=[float(t) for t in (_to_list(thresholds) or [])],
                         top_k=None if top_k is None else int(top_k),
                         class_id=None if class_id is None else int(class_id))
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = list(self._core.thresholds)

    def _check_rank(self, y_pred):
        if self.class_id is not None and y_pred.ndim < 2:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {y_pred.shape}")

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    _kind = "precision"


class Recall(_PrecisionRecall):
    _kind = "recall"


def _enum_value(x):
    return getattr(x, "value", x)


class AUC(_ConfusionMetric):
    _direction = "up"
    _kind = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        curve = {"pr": "PR", "roc": "ROC", "prgain": "PRGAIN"}.get(
            _enum_value(curve), _enum_value(curve))
        summation_method = _enum_value(summation_method)
        if isinstance(summation_method, str) and summation_method[:1].isupper():
            summation_method = {"Interpolation": "interpolation", "Majoring": "majoring",
                                "Minoring": "minoring"}.get(summation_method, summation_method)
        if label_weights is not None:
            label_weights = np.asarray(label_weights, np.float32)
        super().__init__(
            name=name, dtype=dtype, num_thresholds=int(num_thresholds), curve=str(curve),
            summation_method=str(summation_method),
            thresholds=[float(t) for t in (_to_list(thresholds) or [])],
            multi_label=bool(multi_label),
            num_labels=None if num_labels is None else int(num_labels),
            label_weights=[] if label_weights is None else label_weights.astype(float).tolist(),
            from_logits=bool(from_logits))
        self._init_from_thresholds = thresholds is not None
        self.num_thresholds = int(self._core.num_thresholds)
        self.curve = curve
        self.summation_method = summation_method
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = label_weights
        self._from_logits = from_logits
        self._thresholds = np.array(self._core.auc_thresholds)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _check_rank(self, y_pred):
        if self.multi_label and y_pred.ndim != 2:
            raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                             f"{y_pred.ndim}. Full shape received for `y_pred`: {y_pred.shape}")

    def get_config(self):
        label_weights = self.label_weights
        config = {
            "name": self.name, "dtype": self.dtype,
            "num_thresholds": self.num_thresholds, "curve": self.curve,
            "summation_method": self.summation_method, "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if label_weights is None else label_weights.tolist(),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class FBetaScore(_EngineMetric):
    _direction = "up"
    _kind = "f_beta_score"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', "
                             f"'macro', 'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError("Invalid `beta` argument value. It should be a Python float. "
                             f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: "
                             f"beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python "
                                 f"float. Received: threshold={threshold} of type "
                                 f"'{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify 0 < "
                                 f"threshold <= 1. Received: threshold={threshold}")
        super().__init__(name=name, dtype=dtype, average=average, beta=beta, threshold=threshold)
        self.average = average
        self.beta = beta
        self.threshold = threshold

    def _prepare(self, y_true, y_pred, sample_weight):
        y_true = _float32(y_true, "y_true")
        y_pred = _float32(y_pred, "y_pred")
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(f"{type(self).__name__} expects 2D inputs with shape (batch_size, "
                             f"output_dim). Received input shapes: y_pred.shape={y_pred.shape} "
                             f"and y_true.shape={y_true.shape}.")
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true and y_pred must have the same shape, got "
                             f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
        weights = None
        if sample_weight is not None:
            weights = _float32(sample_weight, "sample_weight")
            if weights.shape != (y_pred.shape[0],):
                raise ValueError(f"{self.name}: sample_weight must hold one weight per sample, "
                                 f"shape ({y_pred.shape[0]},); got {weights.shape}")
        return y_true, y_pred, weights

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average,
                "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(_EngineMetric):
    _direction = "up"
    _kind = "r2_score"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype=None):
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of "
                             f"{valid}. Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value >= 0. "
                             f"Received: num_regressors={num_regressors}")
        super().__init__(name=name, dtype=dtype, class_aggregation=class_aggregation,
                         num_regressors=int(num_regressors))
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors

    def _prepare(self, y_true, y_pred, sample_weight):
        y_true, y_pred = squeeze_or_expand_to_same_rank(_float32(y_true, "y_true"),
                                                        _float32(y_pred, "y_pred"))
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={y_pred.shape} and "
                             f"y_true.shape={y_true.shape}.")
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true and y_pred must have the same shape, got "
                             f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
        weights = None
        if sample_weight is not None:
            weights = _float32(sample_weight, "sample_weight")
            if weights.ndim == 1:
                weights = weights[:, None]
            try:
                weights = np.ascontiguousarray(np.broadcast_to(weights, y_true.shape))
            except ValueError:
                raise ValueError(f"{self.name}: sample_weight of shape {np.shape(sample_weight)} "
                                 f"cannot be broadcast to {y_true.shape}") from None
        return y_true, y_pred, weights

    def result(self):
        if self.num_regressors:
            samples = self._core.variables()[0][1][0]
            if self.num_regressors > samples - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. "
                              "Falling back to standard R2 score.", stacklevel=2)
            elif self.num_regressors == samples - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 "
                              "score.", stacklevel=2)
        return super().result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


# -- Keras's MeanMetricWrapper around the loss functions, and the correlations -------------


class _RowValues(_MeanOfRows):
    """The mean of one value per row of y_pred (after moving `axis` last), computed by the
    engine: a loss kernel's per-sample value, or a correlation."""

    _direction = "down"

    def __init__(self, name=None, dtype=None, axis=-1, **engine_args):
        super().__init__(name=name, dtype=dtype, **engine_args)
        self._axis = axis

    def _lined_up(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return _axis_last(y_true, self._axis), _axis_last(y_pred, self._axis)


def _axis_last(x, axis):
    if x.ndim == 0 or axis in (-1, x.ndim - 1):
        return x
    from ember.losses import _class_axis
    return np.moveaxis(x, _class_axis(axis, x.ndim, "metric"), -1)


class BinaryCrossentropy(_RowValues):
    _kind = "binary_crossentropy"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(name=name, dtype=dtype, from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(_RowValues):
    _kind = "categorical_crossentropy"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis, from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(_RowValues):
    _kind = "sparse_categorical_crossentropy"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        from ember.losses import _class_id
        super().__init__(name=name, dtype=dtype, axis=axis, from_logits=bool(from_logits),
                         ignore_class=_class_id(ignore_class))
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def _lined_up(self, y_true, y_pred):
        y_pred = _axis_last(_float32(y_pred, "y_pred"), self._axis)
        return _sparse_labels(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}


class Hinge(_RowValues):
    _kind = "hinge"

    def __init__(self, name="hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SquaredHinge(_RowValues):
    _kind = "squared_hinge"

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CategoricalHinge(_RowValues):
    _kind = "categorical_hinge"

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class KLDivergence(_RowValues):
    _kind = "kl_divergence"

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(name=name, dtype=dtype)


class Poisson(_RowValues):
    _kind = "poisson"

    def __init__(self, name="poisson", dtype=None):
        super().__init__(name=name, dtype=dtype)


class LogCoshError(_RowValues):
    _kind = "log_cosh_error"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_RowValues):
    _kind = "mean_squared_logarithmic_error"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CosineSimilarity(_RowValues):
    """The mean cosine of the angle between y_true and y_pred along `axis`."""

    _kind = "cosine_similarity"
    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis)
        # Keras's get_config leaves `axis` out; so does this one.


class _Huber(_RowValues):
    """compile's metric for the function `huber` (Keras wraps it as MeanMetricWrapper)."""

    _kind = "huber"

    def __init__(self, name="huber", dtype=None, delta=1.0):
        super().__init__(name=name, dtype=dtype, delta=float(delta))


class _BinaryFocalCrossentropy(_RowValues):
    """compile's metric for the function `binary_focal_crossentropy`."""

    _kind = "binary_focal_crossentropy"

    def __init__(self, name="binary_focal_crossentropy", dtype=None, apply_class_balancing=False,
                 alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis,
                         apply_class_balancing=bool(apply_class_balancing), alpha=float(alpha),
                         gamma=float(gamma), from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))


class _Correlation(_RowValues):
    _direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class PearsonCorrelation(_Correlation):
    """The mean over samples of the Pearson correlation of y_true and y_pred along `axis`."""

    _kind = "pearson_correlation"

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis)
        self.axis = axis


class ConcordanceCorrelation(_Correlation):
    """The mean over samples of Lin's concordance correlation along `axis`, as Keras
    computes it."""

    _kind = "concordance_correlation"

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis)
        self.axis = axis


def _row_function(kind, y_true, y_pred, axis):
    """A function form computed by the engine: one value per entry of y_pred without `axis`."""
    y_true, y_pred = _pair(y_true, y_pred)
    if y_pred.ndim == 0:
        raise ValueError(f"{kind}: y_pred must have at least one axis, got a scalar")
    y_true, y_pred = _axis_last(y_true, axis), _axis_last(y_pred, axis)
    shape = y_pred.shape[:-1]
    cols = y_pred.shape[-1]
    if cols == 0:
        raise ValueError(f"{kind}: y_pred has no values along axis {axis}: shape {y_pred.shape}")
    rows = int(np.prod(shape, dtype=np.int64))
    values = _core.Metric(kind).row_values(np.ascontiguousarray(y_pred.reshape(rows, cols)),
                                           np.ascontiguousarray(y_true.reshape(rows, cols)))
    return values.reshape(shape)


def pearson_correlation(y_true, y_pred, axis=-1):
    """`mean(standardize(y_true) * standardize(y_pred), axis)`, each centred on its mean
    and divided by its standard deviation along `axis`."""
    return _row_function("pearson_correlation", y_true, y_pred, axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """`mean(2 * (y_true - mean(y_pred)) * (y_pred - mean(y_pred)) / (var(y_true) +
    var(y_pred) + (mean(y_true) - mean(y_pred))**2 + 1e-7), axis)`, as Keras writes it."""
    return _row_function("concordance_correlation", y_true, y_pred, axis)


# -- confusion counts and the rates at a constraint -------------------------------------------


class _ConfusionCount(_ConfusionMetric):
    _direction = "up"

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype,
                         thresholds=[float(t) for t in (_to_list(thresholds) or [])])
        self.init_thresholds = thresholds
        self.thresholds = list(self._core.thresholds)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    _kind = "true_positives"


class TrueNegatives(_ConfusionCount):
    _kind = "true_negatives"


class FalsePositives(_ConfusionCount):
    _kind = "false_positives"


class FalseNegatives(_ConfusionCount):
    _kind = "false_negatives"


class _AtConstraint(_ConfusionMetric):
    """Keras's SensitivitySpecificityBase: the counts at num_thresholds evenly spaced
    thresholds in [0, 1]; the result is the best `dependent` rate among the thresholds
    whose `constrained` rate reaches the value."""

    _direction = "up"
    _value_name = None

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if value < 0 or value > 1:
            raise ValueError(f"Argument `{self._value_name}` must be in the range [0, 1]. "
                             f"Received: {self._value_name}={value}")
        if num_thresholds <= 0:
            raise ValueError("Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds}")
        super().__init__(name=name, dtype=dtype, value=float(value),
                         num_thresholds=int(num_thresholds),
                         class_id=None if class_id is None else int(class_id))
        setattr(self, self._value_name, value)
        self.value = value
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        self.thresholds = list(self._core.thresholds)

    def _check_rank(self, y_pred):
        if self.class_id is not None and y_pred.ndim < 2:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {y_pred.shape}")

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_id": self.class_id,
                "num_thresholds": self.num_thresholds,
                self._value_name: getattr(self, self._value_name)}


class PrecisionAtRecall(_AtConstraint):
    _kind = "precision_at_recall"
    _value_name = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtConstraint):
    _kind = "recall_at_precision"
    _value_name = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)


class SensitivityAtSpecificity(_AtConstraint):
    _kind = "sensitivity_at_specificity"
    _value_name = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_AtConstraint):
    _kind = "specificity_at_sensitivity"
    _value_name = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


# -- intersection over union ------------------------------------------------------------------


class IoU(_EngineMetric):
    """Keras's IoU: the mean, over `target_class_ids`, of each class's intersection over
    union, from a confusion matrix of the class ids (taken by argmax along `axis` where
    y_true / y_pred are not sparse). Like Keras's, the metric's dtype defaults to int32:
    class ids and sample weights are truncated to integers."""

    _kind = "io_u"
    _direction = "up"

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        self._init_iou(num_classes, target_class_ids, name, dtype, ignore_class, sparse_y_true,
                       sparse_y_pred, axis)

    def _init_iou(self, num_classes, target_class_ids, name, dtype, ignore_class, sparse_y_true,
                  sparse_y_pred, axis, **engine_args):
        target_class_ids = list(target_class_ids)
        if target_class_ids and max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which "
                             f"is [0, {num_classes}).")
        dtype = _dtype_name(dtype or "int32")
        integer = np.dtype(dtype).kind in "iu" if dtype != "bfloat16" else False
        from ember.losses import _class_id
        super().__init__(name=name, dtype=dtype, num_classes=int(num_classes),
                         target_class_ids=[int(i) for i in target_class_ids],
                         ignore_class=_class_id(ignore_class), sparse_y_true=bool(sparse_y_true),
                         sparse_y_pred=bool(sparse_y_pred), integer_dtype=bool(integer),
                         **engine_args)
        self.num_classes = num_classes
        self.target_class_ids = target_class_ids
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis

    def _prepare(self, y_true, y_pred, sample_weight):
        y_true = _float32(y_true, "y_true")
        y_pred = _float32(y_pred, "y_pred")
        # The class ids (or the rows an argmax turns into one), flattened as Keras does.
        if not self.sparse_y_pred:
            y_pred = _axis_last(y_pred, self.axis)
            if y_pred.ndim == 0 or y_pred.shape[-1] == 0:
                raise ValueError(f"{self.name}: y_pred needs a class axis, got {y_pred.shape}")
            y_pred = y_pred.reshape(-1, y_pred.shape[-1])
        else:
            y_pred = y_pred.reshape(-1, 1)
        if not self.sparse_y_true:
            y_true = _axis_last(y_true, self.axis)
            if y_true.ndim == 0 or y_true.shape[-1] != self._core_target_width(y_pred):
                raise ValueError(f"{self.name}: y_true (one-hot) of shape {y_true.shape} does "
                                 f"not fit y_pred of shape {y_pred.shape}")
            y_true = y_true.reshape(-1, y_true.shape[-1])
        elif self.sparse_y_pred:
            y_true = y_true.reshape(-1, 1)
        else:
            y_true = y_true.reshape(-1)
        if len(y_true) != len(y_pred):
            raise ValueError(f"{self.name}: y_true gives {len(y_true)} class ids and y_pred "
                             f"{len(y_pred)}; they must be as many")
        weights = None
        if sample_weight is not None:
            w = _float32(sample_weight, "sample_weight").reshape(-1)
            try:
                weights = np.ascontiguousarray(np.broadcast_to(w, (len(y_pred),)))
            except ValueError:
                raise ValueError(f"{self.name}: sample_weight of shape {np.shape(sample_weight)} "
                                 f"cannot be broadcast to the {len(y_pred)} class ids") from None
        return np.ascontiguousarray(y_true), np.ascontiguousarray(y_pred), weights

    def _core_target_width(self, y_pred):
        return self.num_classes if self.sparse_y_pred else y_pred.shape[-1]

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of two classes: y_pred >= threshold predicts class 1."""

    _kind = "binary_io_u"

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        self._init_iou(2, target_class_ids, name, dtype, None, True, True, -1,
                       threshold=float(threshold))
        self.threshold = threshold

    def _prepare(self, y_true, y_pred, sample_weight):
        y_true = _float32(y_true, "y_true")
        y_pred = _float32(y_pred, "y_pred")
        if y_true.size != y_pred.size:
            raise ValueError(f"{self.name}: y_true of shape {y_true.shape} and y_pred of shape "
                             f"{y_pred.shape} must hold as many values")
        return super()._prepare(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over every class."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """IoU of one-hot y_true (and, unless sparse_y_pred, scores per class in y_pred)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "name": self.name, "dtype": self.dtype, "ignore_class": self.ignore_class,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """MeanIoU of one-hot y_true (and, unless sparse_y_pred, scores per class in y_pred)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


# -- identifiers ----------------------------------------------------------------------------

_CLASSES = [Mean, Sum, MeanMetricWrapper, MeanSquaredError, RootMeanSquaredError,
            MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            CosineSimilarity, LogCoshError, R2Score, AUC, FalseNegatives, FalsePositives,
            Precision, PrecisionAtRecall, Recall, RecallAtPrecision, SensitivityAtSpecificity,
            SpecificityAtSensitivity, TrueNegatives, TruePositives, ConcordanceCorrelation,
            PearsonCorrelation, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
            BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, F1Score, FBetaScore, IoU,
            BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU]

# What Keras's metrics.get finds by name: each class by its name and in snake case,
# and the short aliases.
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "mape": MeanAbsolutePercentageError,
                 "MAPE": MeanAbsolutePercentageError, "bce": BinaryCrossentropy,
                 "BCE": BinaryCrossentropy, "msle": MeanSquaredLogarithmicError,
                 "MSLE": MeanSquaredLogarithmicError})

# The function forms by name (the legacy .h5 reader looks names up here).
_FUNCTIONS = {
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_focal_crossentropy": binary_focal_crossentropy, "hinge": hinge,
    "squared_hinge": squared_hinge, "categorical_hinge": categorical_hinge, "huber": huber,
    "kl_divergence": kl_divergence, "log_cosh": log_cosh,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "msle": mean_squared_logarithmic_error, "poisson": poisson,
    "pearson_correlation": pearson_correlation,
    "concordance_correlation": concordance_correlation,
}

# The metric class computing each function form in compile (Keras wraps the function as
# MeanMetricWrapper(fn), which these compute in the engine).
_FUNCTION_CLASSES = {name: _BY_NAME[name] for name in _FUNCTIONS if name in _BY_NAME}
_FUNCTION_CLASSES.update({"log_cosh": LogCoshError, "huber": _Huber,
                          "binary_focal_crossentropy": _BinaryFocalCrossentropy})


def _class_of_function(fn):
    """The metric class computing a function form (ember's, or ember.losses' of the
    same name), or None."""
    from ember import losses

    for name, f in _FUNCTIONS.items():
        if fn is f or fn is getattr(losses, name, None):
            return _FUNCTION_CLASSES[name]
    return None


def serialize(metric):
    from ember.saving import serialization_lib
    return serialization_lib.serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    from ember.saving import serialization_lib
    return serialization_lib.deserialize_keras_object(
        config, custom_objects, module_objects={**_BY_NAME, **_FUNCTIONS})


def get(identifier):
    """Keras's metrics.get: a metric instance (a class given or named is instantiated),
    or a metric function."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _BY_NAME.get(identifier) or _registered(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if isinstance(obj, type) else obj
    raise ValueError(f"Could not interpret metric identifier: {identifier}")


def _registered(name):
    """A metric registered with `register_keras_serializable` (a file names it "pkg>name")."""
    from ember.saving import object_registration
    return object_registration.get_registered_object(name)


def _is_accuracy(identifier):
    return isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc")


def _is_custom_function(obj):
    """A Python metric function (of ember.ops) rather than one of Keras's."""
    return (callable(obj) and not isinstance(obj, (type, Metric))
            and _class_of_function(obj) is None)


def is_python_metric(metric):
    """True for a Metric subclass written in Python (its own update_state/result):
    compile runs its update_state once per batch, outside the engine."""
    return isinstance(metric, Metric) and not isinstance(metric, _EngineMetric)


def is_graph_metric(metric):
    """True for a compiled metric whose values a graph computes (a MeanMetricWrapper
    around a custom function of ember.ops)."""
    return isinstance(metric, MeanMetricWrapper)


def check_compile_identifier(identifier):
    """Raises ValueError for a compile metric the engine cannot compute (an unknown
    name, a custom stateful metric), without building anything."""
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if _is_accuracy(identifier) or _is_custom_function(identifier) \
            or isinstance(identifier, MeanMetricWrapper) or is_python_metric(identifier):
        return
    if isinstance(identifier, str):
        obj = _BY_NAME.get(identifier) or _registered(identifier)
        if obj is None:
            raise ValueError(f"Could not interpret metric identifier: {identifier}")
        if _is_custom_function(obj):
            return
    elif isinstance(identifier, dict):
        return
    else:
        obj = identifier
    _engine_class(obj, identifier)


def _engine_class(obj, identifier):
    cls = obj if isinstance(obj, type) else type(obj)
    if isinstance(obj, (type, Metric)):
        if issubclass(cls, _EngineMetric) and not issubclass(cls, (Mean,)):
            return cls
    elif callable(obj) and _class_of_function(obj) is not None:
        return _class_of_function(obj)
    elif not callable(obj):
        raise ValueError(f"Could not interpret metric identifier: {identifier}")
    raise ValueError(
        f"Could not compile metric {identifier!r}: ember's models compute their metrics in the "
        "engine, which has Keras's built-in metrics (by name, class, instance or function) but "
        "not custom Python metrics or Mean/Sum/MeanMetricWrapper.")


def compile_metric(identifier, target_shape, output_shape):
    """compile's metric as Keras's compile_utils.get_metric builds it: a metric instance
    named by the string given, or by the object's own name. "accuracy"/"acc" becomes
    binary accuracy when the output has one unit, sparse categorical when the target
    has lower rank (or a last axis of 1 against several units), else categorical."""
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if _is_accuracy(identifier):
        binary = output_shape[-1] == 1
        sparse = len(target_shape) < len(output_shape) or (
            target_shape[-1] == 1 and output_shape[-1] > 1)
        cls = BinaryAccuracy if binary else (
            SparseCategoricalAccuracy if sparse else CategoricalAccuracy)
        return cls(name=str(identifier))
    obj = get(identifier)
    if isinstance(obj, MeanMetricWrapper):
        return _engine_wrapper(obj) or obj
    if _is_custom_function(obj):  # Keras wraps a function as MeanMetricWrapper(fn)
        return MeanMetricWrapper(obj, name=getattr(obj, "__name__", "mean_metric_wrapper"))
    if is_python_metric(obj):
        if isinstance(identifier, str):
            obj.name = identifier
        return obj
    cls = _engine_class(obj, identifier)
    if not isinstance(obj, Metric):  # a function form: the class computing it
        obj = cls()
        obj.name = (identifier if isinstance(identifier, str)
                    else to_snake_case(identifier.__name__))
    elif isinstance(identifier, str):
        obj.name = identifier
    return obj


def _engine_wrapper(wrapper):
    """The engine metric computing MeanMetricWrapper(fn, **kwargs) for one of Keras's
    functions (MeanMetricWrapper(huber, delta=2.0), ...), named as the wrapper; None for
    another function, which compile records as a graph."""
    cls = _class_of_function(wrapper._fn)
    if cls is None:
        return None
    try:
        metric = cls(**wrapper._fn_kwargs)
    except TypeError:  # a keyword the class does not take: record the function instead
        return None
    metric.name = wrapper.name
    return metric


def compile_name(identifier):
    """The name compile gives a metric identifier, without building the metric (the
    callbacks look monitored names up with this); ValueError for what compile rejects."""
    if _is_accuracy(identifier):
        return str(identifier)
    check_compile_identifier(identifier)
    if _is_custom_function(identifier):
        return getattr(identifier, "__name__", "mean_metric_wrapper")
    if isinstance(identifier, MeanMetricWrapper):
        return identifier.name
    obj = _BY_NAME[identifier] if isinstance(identifier, str) else identifier
    _engine_class(obj, identifier)
    if isinstance(identifier, str):
        return identifier
    if isinstance(obj, Metric):
        return obj.name
    return to_snake_case(obj.__name__)  # a class, named as its instance would be, or a function
