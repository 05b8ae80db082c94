"""`ember.losses`: Keras 3's losses.

Each loss is a function returning the per-sample values (float32 NumPy, one per
entry of `y_pred` without its class/feature axis) and a class that reduces them
with `reduction` and `sample_weight` as Keras's `Loss.__call__` does. The values
come from the engine's C++ kernels - the ones `fit` trains with - so a function,
its class and training agree to the last bit of the per-sample values. In
`compile`, any of a name, a function or a class instance selects its kernel with
the instance's parameters and reduction.
"""

import inspect
import warnings

import numpy as np

from ember import _core, ops

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


# -- shapes, as Keras lines them up -------------------------------------------------
def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's rule: when the ranks differ by one and the longer one ends in 1, a
    rank-1 value gains that axis, anything else loses it from the longer one. Works on
    arrays (keeping their dtype) and on graph values (ember.ops.GraphTensor) alike."""
    def expand(x):
        return ops.expand_dims(x, -1) if isinstance(x, ops.GraphTensor) else x[..., None]

    def squeeze(x):
        return ops.squeeze(x, -1) if isinstance(x, ops.GraphTensor) else x[..., 0]

    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = expand(x2)
        else:
            x1 = squeeze(x1)
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = expand(x1)
        else:
            x2 = squeeze(x2)
    return x1, x2


def _floats(y_true, y_pred):
    return np.asarray(y_true, dtype=np.float32), np.asarray(y_pred, dtype=np.float32)


def _class_axis(axis, ndim, name):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        msg = f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}"
        raise ValueError(msg)  # noqa: TRY004 - Keras raises ValueError here
    if ndim == 0:
        raise ValueError(f"{name}: y_pred must have at least one axis, got a scalar")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis={axis} is out of range for y_pred of rank {ndim}")
    return int(axis) % ndim


def _kernel_values(name, y_true, y_pred, axis=-1, same_shape=False, **params):
    """The engine kernel's per-sample values of loss `name` over `axis` of y_pred."""
    y_true, y_pred = _floats(y_true, y_pred)
    if same_shape:
        if y_true.shape != y_pred.shape:
            raise ValueError("Arguments `target` and `output` must have the same shape. "
                             f"Received: target.shape={y_true.shape}, "
                             f"output.shape={y_pred.shape}")
    else:
        try:
            y_true, y_pred = np.broadcast_arrays(y_true, y_pred)
        except ValueError:
            raise ValueError(f"{name}: y_true of shape {y_true.shape} and y_pred of shape "
                             f"{y_pred.shape} cannot be broadcast together") from None
    axis = _class_axis(axis, y_pred.ndim, name)
    if y_pred.shape[axis] == 0:
        raise ValueError(f"{name}: y_pred has no values along axis {axis}: shape {y_pred.shape}")
    y_true = np.ascontiguousarray(np.moveaxis(y_true, axis, -1))
    y_pred = np.ascontiguousarray(np.moveaxis(y_pred, axis, -1))
    spec = _core.LossSpec(name, reduction=None, **params)
    return _core.loss_forward_backward(spec, y_true, y_pred, per_sample=True)[2]


# -- the functions -------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """`mean(square(y_true - y_pred), axis=-1)`"""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_floats(y_true, y_pred))
    return _kernel_values("mean_squared_error", y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`"""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_floats(y_true, y_pred))
    return _kernel_values("mean_absolute_error", y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), 1e-7)), axis=-1)`"""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_floats(y_true, y_pred))
    return _kernel_values("mean_absolute_percentage_error", y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(maximum(y_pred, 1e-7) + 1) - log(maximum(y_true, 1e-7) + 1)), -1)`"""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_floats(y_true, y_pred))
    return _kernel_values("mean_squared_logarithmic_error", y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """`-sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis)`: -1 for
    aligned vectors, 0 for orthogonal ones (or a zero vector), 1 for opposite ones."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_floats(y_true, y_pred))
    return _kernel_values("cosine_similarity", y_true, y_pred, axis=axis)


def huber(y_true, y_pred, delta=1.0):
    """`mean(0.5 * e**2 if |e| <= delta else delta * |e| - 0.5 * delta**2, axis=-1)`
    with `e = y_pred - y_true`."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_floats(y_true, y_pred))
    return _kernel_values("huber", y_true, y_pred, delta=float(delta))


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed as
    `x + softplus(-2x) - log(2)` so that it stays finite for large errors."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_floats(y_true, y_pred))
    return _kernel_values("log_cosh", y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to [1e-7, 1]."""
    return _kernel_values("kl_divergence", y_true, y_pred)


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)`"""
    return _kernel_values("poisson", y_true, y_pred)


def hinge(y_true, y_pred):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`; labels that are all 0 or 1
    are first mapped to -1 and 1."""
    return _kernel_values("hinge", y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`; labels that are all
    0 or 1 are first mapped to -1 and 1."""
    return _kernel_values("squared_hinge", y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """`maximum(max((1 - y_true) * y_pred, -1) - sum(y_true * y_pred, -1) + 1, 0)`"""
    return _kernel_values("categorical_hinge", y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """`-sum(y_true * log(p), axis)`: p is `softmax(y_pred)` from logits, else `y_pred`
    normalised to sum 1 and clipped to [1e-7, 1 - 1e-7]. `label_smoothing` mixes
    the labels with the uniform distribution."""
    y_pred = np.asarray(y_pred, dtype=np.float32)
    if y_pred.ndim and y_pred.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={y_pred.shape}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning, stacklevel=2)
    label_smoothing = float(label_smoothing)
    if (label_smoothing and y_pred.ndim and np.ndim(y_true) == y_pred.ndim
            and _class_axis(axis, y_pred.ndim, "categorical_crossentropy") != y_pred.ndim - 1):
        # Keras smooths towards 1 / (size of the last axis), whatever `axis` is.
        if not 0.0 <= label_smoothing <= 1.0:
            _core.LossSpec("categorical_crossentropy", label_smoothing=label_smoothing)  # raises
        y_true = np.asarray(y_true, dtype=np.float32)
        y_true = y_true * np.float32(1.0 - label_smoothing) + (
            np.float32(label_smoothing) / np.float32(y_true.shape[-1]))
        label_smoothing = 0.0
    return _kernel_values("categorical_crossentropy", y_true, y_pred, axis=axis, same_shape=True,
                          from_logits=bool(from_logits), label_smoothing=label_smoothing)


def _sparse_labels(y_true, y_pred, axis):
    """float32 labels shaped like y_pred without its class axis (a trailing 1 squeezed
    as Keras does), and that axis made non-negative."""
    labels = np.asarray(y_true, dtype=np.float32)
    axis = _class_axis(axis, y_pred.ndim, "sparse_categorical_crossentropy")
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = np.squeeze(labels, axis)
    if labels.shape != y_pred.shape[:axis] + y_pred.shape[axis + 1:]:
        raise ValueError("Arguments `target` and `output` must have the same shape up until the "
                         f"last dimension: target.shape={np.shape(y_true)}, "
                         f"output.shape={y_pred.shape}")
    return labels, axis


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """`categorical_crossentropy` with integer class ids as targets. Entries whose
    label equals `ignore_class` give 0 (and are left out of a class's reduction)."""
    y_pred = np.asarray(y_pred, dtype=np.float32)
    labels, axis = _sparse_labels(y_true, y_pred, axis)
    spec = _core.LossSpec("sparse_categorical_crossentropy", reduction=None,
                          from_logits=bool(from_logits), ignore_class=_class_id(ignore_class))
    y_pred = np.ascontiguousarray(np.moveaxis(y_pred, axis, -1))
    return _core.loss_forward_backward(spec, np.ascontiguousarray(labels), y_pred,
                                       per_sample=True)[2]


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """`-mean(t * log(p) + (1 - t) * log(1 - p), axis)`: p is `y_pred` clipped to
    [1e-7, 1 - 1e-7], or from logits the log-sigmoid form. `label_smoothing`
    squeezes the labels towards 0.5."""
    return _kernel_values("binary_crossentropy", y_true, y_pred, axis=axis, same_shape=True,
                          from_logits=bool(from_logits), label_smoothing=float(label_smoothing))


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """`mean(w * (1 - p_t)**gamma * binary_crossentropy, axis)` with
    `p_t = t * p + (1 - t) * (1 - p)` and, with class balancing,
    `w = t * alpha + (1 - t) * (1 - alpha)`."""
    return _kernel_values("binary_focal_crossentropy", y_true, y_pred, axis=axis,
                          same_shape=True, apply_class_balancing=bool(apply_class_balancing),
                          alpha=float(alpha), gamma=float(gamma), from_logits=bool(from_logits),
                          label_smoothing=float(label_smoothing))


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """`sum(alpha * (1 - c)**gamma * -y_true * log(c), axis)` with `c` the
    predictions (`softmax(y_pred)` from logits) normalised to sum 1 and clipped to
    [1e-7, 1 - 1e-7]: crossentropy down-weighted on the classes predicted well.
    `alpha` is a scalar in ember (Keras also takes one per class)."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    if np.ndim(alpha) != 0:
        raise ValueError("ember's categorical_focal_crossentropy takes a scalar `alpha`; "
                         f"received alpha={alpha!r}")
    y_pred = np.asarray(y_pred, dtype=np.float32)
    if y_pred.ndim and y_pred.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_focal_crossentropy, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={y_pred.shape}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning, stacklevel=2)
    label_smoothing = float(label_smoothing)
    if (label_smoothing and y_pred.ndim and np.ndim(y_true) == y_pred.ndim
            and _class_axis(axis, y_pred.ndim, "categorical_focal_crossentropy")
            != y_pred.ndim - 1):
        # Keras smooths towards 1 / (size of the last axis), whatever `axis` is.
        y_true = np.asarray(y_true, dtype=np.float32)
        y_true = y_true * np.float32(1.0 - label_smoothing) + (
            np.float32(label_smoothing) / np.float32(y_true.shape[-1]))
        label_smoothing = 0.0
    return _kernel_values("categorical_focal_crossentropy", y_true, y_pred, axis=axis,
                          same_shape=True, alpha=float(alpha), gamma=float(gamma),
                          from_logits=bool(from_logits), label_smoothing=label_smoothing)


def _class_ids(y_true, y_pred, name):
    """float32 labels, one per row of y_pred (its last axis the classes or features)."""
    labels = np.asarray(y_true, dtype=np.float32)
    if labels.ndim == y_pred.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"{name}: expected integer labels of shape {y_pred.shape[:-1]} for "
                         f"y_pred of shape {y_pred.shape}, got y_true of shape "
                         f"{np.shape(y_true)}")
    return np.ascontiguousarray(labels)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """`(1 - p**q) / q` with `p` the predicted probability of the labelled class:
    integer class ids as targets; between crossentropy (q -> 0) and mean absolute
    error (q = 1), robust to noisy labels."""
    y_pred = np.asarray(y_pred, dtype=np.float32)
    if y_pred.ndim == 0:
        raise ValueError("categorical_generalized_cross_entropy: y_pred must have a class axis")
    labels = _class_ids(y_true, y_pred, "categorical_generalized_cross_entropy")
    spec = _core.LossSpec("categorical_generalized_cross_entropy", reduction=None, q=float(q))
    return _core.loss_forward_backward(spec, labels, np.ascontiguousarray(y_pred),
                                       per_sample=True)[2]


def _reduced_axes(axis, ndim, name):
    """Keras's `axis` of dice/tversky (None, an int or a tuple) as a sorted tuple."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis={axis!r} is not an axis of an input of rank {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: axis={axis!r} repeats an axis")
    return tuple(sorted(out))


def _overlap_values(name, y_true, y_pred, axis, **params):
    y_true, y_pred = _floats(y_true, y_pred)
    try:
        y_true, y_pred = np.broadcast_arrays(y_true, y_pred)
    except ValueError:
        raise ValueError(f"{name}: y_true of shape {y_true.shape} and y_pred of shape "
                         f"{y_pred.shape} cannot be broadcast together") from None
    axes = _reduced_axes(axis, y_pred.ndim, name)
    kept = [a for a in range(y_pred.ndim) if a not in axes]
    out_shape = tuple(y_pred.shape[a] for a in kept)
    size = int(np.prod([y_pred.shape[a] for a in axes], dtype=np.int64))
    if size == 0 or y_pred.size == 0:
        raise ValueError(f"{name}: nothing to reduce over axis={axis!r} of shape {y_pred.shape}")

    def rows(x):
        return np.ascontiguousarray(np.transpose(x, kept + list(axes)).reshape(-1, size))

    spec = _core.LossSpec(name, reduction=None, **params)
    values = _core.loss_forward_backward(spec, rows(y_true), rows(y_pred), per_sample=True)[2]
    return values.reshape(out_shape)


def dice(y_true, y_pred, axis=None):
    """`1 - 2 sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + 1e-7)` over `axis`
    (None: every axis, one value)."""
    return _overlap_values("dice", y_true, y_pred, axis)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """`1 - TP / (TP + alpha FP + beta FN + 1e-7)` over `axis` with `TP = sum(t p)`,
    `FP = sum((1 - p) t)`, `FN = sum(p (1 - t))`; alpha = beta = 0.5 is Dice."""
    return _overlap_values("tversky", y_true, y_pred, axis, alpha=float(alpha),
                           beta=float(beta))


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
           gamma=80, margin=0.4):
    """Circle loss of L2-normalised embeddings `y_pred` (batch, dim) with integer
    labels: per row, `softplus(logsumexp(positives) + logsumexp(negatives))` of the
    re-weighted cosine distances to the other rows (0 for a row with no positive or
    no negative). ember compares the batch with itself: `ref_labels` and
    `ref_embeddings` must be None."""
    if ref_labels is not None or ref_embeddings is not None:
        raise NotImplementedError("ember's circle compares the batch with itself; "
                                  "ref_labels and ref_embeddings are not supported")
    y_pred = np.asarray(y_pred, dtype=np.float32)
    if y_pred.ndim != 2:
        raise ValueError(f"circle: y_pred must be embeddings of shape (batch_size, dim), got "
                         f"shape {y_pred.shape}")
    labels = np.asarray(y_true, dtype=np.float32).reshape(-1)
    if labels.shape[0] != y_pred.shape[0]:
        raise ValueError(f"circle: y_true has {labels.shape[0]} labels for "
                         f"{y_pred.shape[0]} embeddings")
    labels = np.trunc(labels)  # Keras casts the labels to int32
    spec = _core.LossSpec("circle", reduction=None, gamma=float(gamma), margin=float(margin),
                          remove_diagonal=bool(remove_diagonal))
    return _core.loss_forward_backward(spec, np.ascontiguousarray(labels),
                                       np.ascontiguousarray(y_pred), per_sample=True)[2]


def ctc(y_true, y_pred):
    """Connectionist Temporal Classification loss of logits `y_pred` (batch, time,
    classes) against integer labels `y_true` (batch, max_length), class 0 being the
    blank (and the padding of shorter label sequences): `-log p(labels | logits)`,
    summed over every alignment by the forward algorithm in log space."""
    y_true = np.asarray(y_true, dtype=np.float32)
    y_pred = np.asarray(y_pred, dtype=np.float32)
    if y_true.ndim != 2:
        raise ValueError("Targets `y_true` are expected to be a tensor of shape `(batch_size, "
                         f"max_length)` in integer format. Received: y_true.shape={y_true.shape}")
    if y_pred.ndim != 3:
        raise ValueError("Logits `y_pred` are expected to be a tensor of shape `(batch_size, "
                         f"max_length, num_classes)`. Received: y_pred.shape={y_pred.shape}")
    spec = _core.LossSpec("ctc", reduction=None)
    return _core.loss_forward_backward(spec, np.ascontiguousarray(y_true),
                                       np.ascontiguousarray(y_pred), per_sample=True)[2]


def _class_id(ignore_class):
    if ignore_class is None:
        return None
    if isinstance(ignore_class, bool) or not float(ignore_class).is_integer():
        raise ValueError(f"`ignore_class` must be an integer class id or None. Received: "
                         f"ignore_class={ignore_class!r}")
    return int(ignore_class)


def check_sparse_labels(labels, classes, ignore_class=None):
    """Raises ValueError unless every label (other than `ignore_class`) is an
    integer in [0, classes)."""
    labels = np.asarray(labels)
    if ignore_class is not None:
        labels = labels[labels != ignore_class]
    if labels.size and (
        np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= classes
    ):
        raise ValueError(
            f"Labels must be integers in [0, {classes - 1}] for an output of {classes} classes; "
            f"got values from {labels.min()} to {labels.max()}."
        )


# -- reduction, as Keras's reduce_weighted_values -----------------------------------
def _standardize_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError("Invalid value for argument `reduction`. Expected one of "
                         f"{set(_REDUCTIONS)}. Received: reduction={reduction}")
    return reduction


def _reduce_weighted_values(values, sample_weight=None, mask=None,
                            reduction="sum_over_batch_size"):
    """float32, step by step as Keras: the mask becomes weights (total/valid on valid
    entries for the mean reductions), the weights multiply the values, and the sum
    is divided by the number of values (or the weights' sum for
    "mean_with_sample_weight"); a zero divisor gives 0."""
    values = np.asarray(values, dtype=np.float32)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float32)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if reduction in ("mean", "sum_over_batch_size"):
            total, valid = np.float32(mask.size), np.float32(mask.sum())
            mask_weight = total / valid if valid else np.float32(0)
            float_mask = np.where(mask, mask_weight, np.float32(0)).astype(np.float32)
        else:
            float_mask = mask.astype(np.float32)
        if sample_weight is not None:
            float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
            sample_weight = sample_weight * float_mask
        else:
            sample_weight = float_mask
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    loss = np.sum(values, dtype=np.float32)
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = np.sum(sample_weight, dtype=np.float32)
        else:
            divisor = np.float32(values.size)
        loss = loss / divisor if divisor != 0 else np.float32(0)
    return np.float32(loss)


# -- the classes ---------------------------------------------------------------------
def _snake_case(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class Loss:
    """Base class of the losses: `loss(y_true, y_pred, sample_weight=None)` computes
    `call(y_true, y_pred)`'s per-sample values and reduces them.

    Args:
        name: the loss's name.
        reduction: `"sum_over_batch_size"` (the default; `"mean"` is the same): the
            weighted sum divided by the number of values; `"sum"`;
            `"mean_with_sample_weight"`: divided by the weights' sum; `None` or
            `"none"`: no reduction.
        dtype: ember computes losses in float32 (`None` or `"float32"`).
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        if dtype not in (None, "float32") and getattr(dtype, "name", None) != "float32":
            raise ValueError(f"ember computes losses in float32; dtype={dtype!r} is not "
                             "supported.")
        self._dtype = "float32"

    @property
    def dtype(self):
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _floats(y_true, y_pred)
        values, mask = self._values_and_mask(y_true, y_pred)
        return _reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def _values_and_mask(self, y_true, y_pred):
        return np.asarray(self.call(y_true, y_pred), dtype=np.float32), None

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A loss function as a `Loss`: `fn(y_true, y_pred, **kwargs)` after Keras's
    rank alignment of the two. Built-in functions keep their engine kernel."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs
        if _builtin_name(fn) is not None:  # validates the parameters now, as a ValueError
            _engine_loss_spec(fn, kwargs, self.reduction, 1.0)

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(*_floats(y_true, y_pred))
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config["fn"] = _builtin_name(self.fn) or getattr(self.fn, "__name__", repr(self.fn))
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        if "fn" not in config:  # a subclass: its __init__ knows its function
            return cls(**config)
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, str):
            fn = _FUNCTIONS.get(fn, fn)
        if not callable(fn):
            raise TypeError(f"Could not interpret loss function: {fn!r}")
        return cls(fn, **config)

    def __repr__(self):
        return f"<{type(self).__name__}({getattr(self.fn, '__name__', self.fn)}, " \
               f"kwargs={self._fn_kwargs})>"


class _ParameterlessLoss(LossFunctionWrapper):
    """A loss whose function takes no parameters: its config is Loss's alone
    (name, reduction, dtype), as Keras writes it."""

    def get_config(self):
        return Loss.get_config(self)


class MeanSquaredError(_ParameterlessLoss):
    """`mean(square(y_true - y_pred), axis=-1)`, reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(_ParameterlessLoss):
    """`mean(abs(y_true - y_pred), axis=-1)`, reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(_ParameterlessLoss):
    """`100 * mean(abs((y_true - y_pred) / y_true), axis=-1)`, reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, reduction=reduction,
                         dtype=dtype)


class MeanSquaredLogarithmicError(_ParameterlessLoss):
    """`mean(square(log(y_pred + 1) - log(y_true + 1)), axis=-1)`, reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, reduction=reduction,
                         dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    """`-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`, reduced."""

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype,
                         axis=axis)
        self.axis = axis

    def get_config(self):
        # Keras leaves `axis` out of the config (so a round trip loses it); ember keeps it.
        return {**Loss.get_config(self), "axis": self.axis}


class Huber(LossFunctionWrapper):
    """The Huber loss of `e = y_pred - y_true`: quadratic for `|e| <= delta`,
    linear beyond; averaged over the last axis, reduced."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)
        self.delta = delta

    def get_config(self):
        # Keras leaves `delta` out of the config (so a round trip loses it); ember keeps it.
        return {**Loss.get_config(self), "delta": self.delta}


class LogCosh(_ParameterlessLoss):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)


class Hinge(_ParameterlessLoss):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`, reduced; 0/1 labels become
    -1/1."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(_ParameterlessLoss):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`, reduced; 0/1 labels
    become -1/1."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(_ParameterlessLoss):
    """`maximum(neg - pos + 1, 0)` with `pos = sum(y_true * y_pred)` and
    `neg = max((1 - y_true) * y_pred)`, reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)


class KLDivergence(_ParameterlessLoss):
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(_ParameterlessLoss):
    """`mean(y_pred - y_true * log(y_pred), axis=-1)`, reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy of probabilities (or logits with `from_logits=True`)
    against 0/1 labels, averaged over `axis`, reduced."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Binary crossentropy down-weighted on easy examples by `(1 - p_t)**gamma`,
    optionally balanced by `alpha` for class 1 and `1 - alpha` for class 0."""

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis,
                "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}


class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy of a distribution over classes (or logits) against one-hot or
    soft labels, reduced."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Categorical crossentropy against integer class ids, reduced. Entries labelled
    `ignore_class` are masked: no loss, and out of the reduction's divisor."""

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def _values_and_mask(self, y_true, y_pred):
        values = np.asarray(self.call(y_true, y_pred), dtype=np.float32)
        if self.ignore_class is None:
            return values, None
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        labels, _ = _sparse_labels(y_true, y_pred, self.axis)
        return values, labels != np.float32(self.ignore_class)

    def get_config(self):
        # Keras leaves `axis` out of the config (so a round trip loses it); ember keeps it.
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Categorical crossentropy down-weighted on well-predicted classes by
    `alpha * (1 - p)**gamma`, reduced."""

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self.alpha = alpha
        self.gamma = gamma

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis,
                "alpha": self.alpha, "gamma": self.gamma}


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """`(1 - p**q) / q` of the labelled class's probability (integer labels), reduced."""

    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(categorical_generalized_cross_entropy, name=name, reduction=reduction,
                         dtype=dtype, q=q)
        self.q = q

    def get_config(self):
        return {**Loss.get_config(self), "q": self.q}


class Dice(LossFunctionWrapper):
    """`1 - 2 sum(y_true * y_pred) / (sum(y_true) + sum(y_pred))` over `axis`
    (None: one value for the batch), reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {**Loss.get_config(self), "axis": self.axis}


class Tversky(LossFunctionWrapper):
    """Dice with false positives weighted by `alpha` and false negatives by `beta`,
    reduced."""

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         beta=beta, axis=axis)
        self.alpha = alpha
        self.beta = beta
        self.axis = axis

    def get_config(self):
        return {**Loss.get_config(self), "alpha": self.alpha, "beta": self.beta,
                "axis": self.axis}


class Circle(LossFunctionWrapper):
    """Circle loss between integer labels and L2-normalised embeddings, reduced over
    the rows whose value is not 0 (Keras masks the others)."""

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True,
                 reduction="sum_over_batch_size", name="circle", dtype=None):
        super().__init__(circle, name=name, reduction=reduction, dtype=dtype, gamma=gamma,
                         margin=margin, remove_diagonal=remove_diagonal)
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal

    def _values_and_mask(self, y_true, y_pred):
        values = np.asarray(self.call(y_true, y_pred), dtype=np.float32)
        return values, values > 0

    def get_config(self):
        return {**Loss.get_config(self), "gamma": self.gamma, "margin": self.margin,
                "remove_diagonal": self.remove_diagonal}


class CTC(LossFunctionWrapper):
    """CTC loss of logits (batch, time, classes) against integer label sequences
    (batch, max_length) padded with the blank, 0; reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


# -- lookup ----------------------------------------------------------------------------
_FUNCTIONS = {fn.__name__: fn for fn in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, kl_divergence, poisson,
    hinge, squared_hinge, categorical_hinge, categorical_crossentropy,
    sparse_categorical_crossentropy, binary_crossentropy, binary_focal_crossentropy,
    categorical_focal_crossentropy, categorical_generalized_cross_entropy, dice, tversky,
    circle, ctc)}
_CLASSES = {cls.__name__: cls for cls in (
    Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge,
    CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy, BinaryFocalCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy, Dice, Tversky, Circle, CTC)}

# Keras's short names (keras.losses.get accepts them).
bce = BCE = binary_crossentropy
kld = KLD = kl_divergence
mae = MAE = mean_absolute_error
mse = MSE = mean_squared_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error

ALL_OBJECTS_DICT = {**_CLASSES, **_FUNCTIONS,
                    "bce": bce, "BCE": BCE, "kld": kld, "KLD": KLD, "mae": mae, "MAE": MAE,
                    "mse": mse, "MSE": MSE, "mape": mape, "MAPE": MAPE, "msle": msle,
                    "MSLE": MSLE}


def serialize(loss):
    """The config of a loss function or `Loss` instance, as Keras writes it."""
    from ember.saving import serialization_lib

    return serialization_lib.serialize_keras_object(loss)


def deserialize(name, custom_objects=None):
    """The loss function or `Loss` instance a name or config describes."""
    from ember.saving import serialization_lib

    return serialization_lib.deserialize_keras_object(name, custom_objects=custom_objects,
                                                      module_objects=ALL_OBJECTS_DICT)


def get(identifier):
    """A loss from a name (function, class or alias), a config dict, a function or a
    `Loss` instance; a class name gives an instance with default arguments."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier, None)
    else:
        obj = identifier
    if callable(obj):
        if inspect.isclass(obj):
            obj = obj()
        return obj
    raise ValueError(f"Could not interpret loss identifier: {identifier}")


# -- the engine's view ----------------------------------------------------------------
def _builtin_name(fn):
    name = getattr(fn, "__name__", None)
    return name if _FUNCTIONS.get(name) is fn else None


def _rows_per_value(name, axis, output_shape):
    """The engine's grouping of Dice/Tversky values for `axis` and a model output of
    `output_shape` (batch axis included; None: not known yet): 0 for axis=None (one
    value), 1 for the last axis, the entries per sample for every axis but the batch."""
    if axis is None:
        return 0
    if output_shape is None:  # the shapes come at fit; the types are checked now
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise ValueError(f"{name}: axis={axis!r} must be None, an int or a tuple of ints")
        return 1
    rank = len(output_shape)
    axes = _reduced_axes(axis, rank, name)
    if axes == (rank - 1,):
        return 1
    if axes == tuple(range(1, rank)):
        return int(np.prod(output_shape[1:-1], dtype=np.int64))
    raise NotImplementedError(
        f"ember trains {name} over axis=None, the last axis or every axis but the batch; "
        f"axis={axis!r} for an output of rank {rank} is not supported (the function "
        f"`ember.losses.{name}` takes any axis)")


def _engine_loss_spec(fn, kwargs, reduction, weight, output_shape=None, target_shape=None):
    name = fn.__name__
    params = {}
    if name in ("tversky", "circle", "categorical_focal_crossentropy"):
        # Their defaults differ from the engine's (Circle's gamma is 80, Tversky's alpha 0.5).
        params = {k: p.default for k, p in inspect.signature(fn).parameters.items()
                  if p.default is not inspect.Parameter.empty}
    params.update(kwargs)
    if name in ("dice", "tversky"):
        params["rows_per_value"] = _rows_per_value(name, params.pop("axis", None), output_shape)
    if name == "circle":
        if params.pop("ref_labels", None) is not None or \
                params.pop("ref_embeddings", None) is not None:
            raise NotImplementedError("ember's circle compares the batch with itself; "
                                      "ref_labels and ref_embeddings are not supported")
        params["remove_diagonal"] = bool(params.get("remove_diagonal", True))
    if name == "ctc" and output_shape is not None and target_shape is not None:
        if len(output_shape) != 3 or len(target_shape) != 2:
            raise ValueError("ctc: expected an output of shape (batch_size, max_length, "
                             f"num_classes) and targets of shape (batch_size, max_length), got "
                             f"{tuple(output_shape)} and {tuple(target_shape)}")
        params["rows_per_value"] = int(output_shape[1])
        params["target_width"] = int(target_shape[1])
    if name == "categorical_focal_crossentropy" and np.ndim(params.get("alpha", 0.25)) != 0:
        raise ValueError("ember's categorical_focal_crossentropy takes a scalar `alpha`; "
                         f"received alpha={params['alpha']!r}")
    if "ignore_class" in params:
        params["ignore_class"] = _class_id(params["ignore_class"])
    if "axis" in params:
        axis = params["axis"]
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            msg = f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}"
            raise ValueError(msg)  # Keras raises ValueError here
        params["axis"] = int(axis)
    for key in ("label_smoothing", "delta", "alpha", "gamma", "beta", "q", "margin"):
        if key in params:
            params[key] = float(params[key])
    for key in ("from_logits", "apply_class_balancing"):
        if key in params:
            params[key] = bool(params[key])
    return _core.LossSpec(name, weight=float(weight), reduction=reduction, **params)


def custom_loss(identifier):
    """(fn(y_true, y_pred) -> values, reduction, align) for a loss without an engine
    kernel - a Python function of ember.ops, a LossFunctionWrapper around one, or a
    Loss subclass with its own call() - else None. The model records fn into a graph;
    `align`: first bring y_true and y_pred to one rank, as Keras's LossFunctionWrapper
    does (a Loss subclass's call gets them as they are)."""
    resolved = get(identifier) if not isinstance(identifier, Loss) else identifier
    if resolved is None:
        return None
    if isinstance(resolved, LossFunctionWrapper):
        if _builtin_name(resolved.fn) is not None:
            return None
        fn, kwargs = resolved.fn, dict(resolved._fn_kwargs)
        return (lambda y_true, y_pred: fn(y_true, y_pred, **kwargs)), resolved.reduction, True
    if isinstance(resolved, Loss):
        return resolved.call, resolved.reduction, False
    if _builtin_name(resolved) is not None or not callable(resolved):
        return None
    return resolved, "sum_over_batch_size", True


def engine_spec(loss, weight=1.0, output_shape=None, target_shape=None):
    """The engine's `_core.LossSpec` for a loss in any form `compile` accepts: its
    kernel, its parameters and reduction, and its weight among the outputs. The
    shapes of the model's output and targets (batch axis first), where known, fix
    what depends on them (Dice's grouping, CTC's time steps and label width)."""
    resolved = get(loss)
    if resolved is None:
        raise ValueError("Expected a loss for every output, got None.")
    if isinstance(resolved, LossFunctionWrapper) and _builtin_name(resolved.fn) is not None:
        return _engine_loss_spec(resolved.fn, resolved._fn_kwargs, resolved.reduction, weight,
                                 output_shape, target_shape)
    if _builtin_name(resolved) is not None:
        return _engine_loss_spec(resolved, {}, "sum_over_batch_size", weight, output_shape,
                                 target_shape)
    custom = custom_loss(resolved)
    if custom is not None:
        # The engine computes it from a graph of its own (Model.set_graph_loss); the spec
        # carries its weight and reduction only.
        return _core.LossSpec("mean_squared_error", weight=float(weight), reduction=custom[1])
    raise ValueError(
        f"Could not interpret loss identifier: {loss!r}. ember trains with its built-in losses "
        f"({', '.join(sorted(_FUNCTIONS))}), given by name, as functions or as `ember.losses` "
        "class instances; a custom Python loss is not supported yet.")


def loss_value(loss, y_true, y_pred, sample_weight=None):
    """The loss reduced by the engine's kernel, as training computes it (in double):
    `y_pred`'s last axis is the class/feature axis, `sample_weight` one per sample."""
    spec = engine_spec(loss, 1.0, np.shape(y_pred), np.shape(y_true))
    weights = None if sample_weight is None else np.asarray(sample_weight, np.float32)
    return _core.loss_forward_backward(spec, np.asarray(y_true, np.float32),
                                       np.asarray(y_pred, np.float32), weights)[0]


def loss_gradient(loss, y_true, y_pred, sample_weight=None):
    """(value, d value / d y_pred) from the engine's kernel, as `loss_value`."""
    spec = engine_spec(loss, 1.0, np.shape(y_pred), np.shape(y_true))
    weights = None if sample_weight is None else np.asarray(sample_weight, np.float32)
    value, grad, _ = _core.loss_forward_backward(spec, np.asarray(y_true, np.float32),
                                                 np.asarray(y_pred, np.float32), weights,
                                                 gradient=True)
    return value, grad
