"""Keras's neural-network ops (`keras.ops.nn`) beyond the activations: the shrink/plus
family, normalizations, moments, one_hot, top_k and the crossentropies.

Each is written once from ember.ops functions, so it computes eagerly on arrays and
records (differentiable) engine ops on graph values alike, with jax's formulas.
"""

import numpy as np

from ember import backend as _backend
from ember._ops import (
    _F32,
    GraphTensor,
    _check_weights_alone,
    _np,
    _np_float,
    _out,
    _shape,
    _tracing,
    add,
    clip,
    divide,
    expand_dims,
    log,
    log_softmax,
    maximum,
    mean,
    minimum,
    multiply,
    negative,
    relu,
    sigmoid,
    softplus,
    sqrt,
    square,
    squeeze,
    subtract,
    sum,
    tanh,
    var,
)
from ember._ops_linalg import norm
from ember._ops_numpy import (
    _eager,
    _lowered,
    abs,
    equal,
    expm1,
    greater,
    max,
    moveaxis,
    rsqrt,
    split,
    where,
)
from ember.variables import Variable


def log_sigmoid(x):
    return negative(softplus(negative(x)))


def celu(x, alpha=1.0):
    return add(maximum(x, 0.0), multiply(expm1(divide(minimum(x, 0.0), alpha)), alpha))


def glu(x, axis=-1):
    a, b = split(x, 2, axis=axis)
    return multiply(a, sigmoid(b))


def hard_tanh(x):
    return clip(x, -1.0, 1.0)


def hard_shrink(x, threshold=0.5):
    return multiply(x, greater(abs(x), threshold))


def soft_shrink(x, threshold=0.5):
    return subtract(x, clip(x, -threshold, threshold))


def sparse_plus(x):
    """0 below -1, x above 1, (x + 1)^2 / 4 between."""
    c = clip(x, -1.0, 1.0)
    return add(multiply(square(add(c, 1.0)), 0.25), relu(subtract(x, 1.0)))


def sparse_sigmoid(x):
    return multiply(add(clip(x, -1.0, 1.0), 1.0), 0.5)


def squareplus(x, b=4):
    return multiply(add(x, sqrt(add(square(x), float(b)))), 0.5)


def threshold(x, threshold, default_value):
    return where(greater(x, threshold), x, default_value)


def tanh_shrink(x):
    return subtract(x, tanh(x))


def sparsemax(x, axis=-1):
    """As keras.ops.sparsemax computes it (jax backend): its threshold divides the sum of the
    supported prefix sums, not the last one, so rows need not sum to 1."""
    _eager("sparsemax", x, why="it sorts the values")
    z = _np_float(x)
    zs = -np.sort(-z, axis=axis)
    cums = np.cumsum(zs, axis=axis)
    shape = [1] * z.ndim
    shape[axis] = -1
    r = np.arange(1, z.shape[axis] + 1).reshape(shape)
    support = zs - (cums - 1) / r > 0
    k = np.sum(support, axis=axis, keepdims=True)
    tau = (np.sum(np.where(support, cums, 0.0), axis=axis, keepdims=True) - 1) / k
    return _out(np.maximum(z - tau, 0.0).astype(z.dtype))


def moments(x, axes, keepdims=False, synchronized=False):
    if not isinstance(x, GraphTensor):
        x = _np_float(x)
    return mean(x, axis=axes, keepdims=keepdims), var(x, axis=axes, keepdims=keepdims)


def _lift(x, w):
    """A weight or constant used in arithmetic of its own (rsqrt(variance + eps)) inside a
    layer, made a graph value broadcast against x first, so the engine differentiates it
    (and what multiplies it stays a graph value)."""
    if isinstance(x, GraphTensor) and not isinstance(w, GraphTensor):
        return add(multiply(x, 0.0), w)
    return w


def _along(v, axes, ndim, op):
    """v (the length of the normalized axes) shaped to broadcast against a rank-ndim value."""
    if v is None or axes == [ndim - 1] or len(_shape(v)) == ndim:
        return v
    if isinstance(v, Variable) and _tracing[0]:
        raise NotImplementedError(f"ember.ops.{op}: inside a layer a weight along axes {axes} "
                                  "of a rank-{ndim} value needs that value's shape; put the "
                                  "normalized axes last")
    shape = [1] * ndim
    for a in axes:
        shape[a] = _shape(v)[axes.index(a)] if len(_shape(v)) == len(axes) else -1
    return np.reshape(np.asarray(_np_float(v)), shape)


def _axes_list(axis, ndim):
    return sorted(a % ndim for a in (axis if isinstance(axis, (list, tuple)) else [axis]))


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """(x - mean) * rsqrt(variance + epsilon) * gamma + beta over `axis`, as Keras folds it."""
    if kwargs.get("rms_scaling"):
        raise ValueError("ember.ops.layer_normalization: rms_scaling is deprecated in Keras; "
                         "use ops.rms_normalization")
    eps = _backend.epsilon() if epsilon is None else epsilon
    if not isinstance(x, GraphTensor):
        x = _np_float(x)
    ndim = len(_shape(x))
    axes = _axes_list(axis, ndim)
    m, v = moments(x, axes=axes, keepdims=True)
    inv = rsqrt(add(v, eps))
    if gamma is not None:
        inv = multiply(inv, _along(gamma, axes, ndim, "layer_normalization"))
    res = negative(multiply(m, inv))
    if beta is not None:
        res = add(res, _along(beta, axes, ndim, "layer_normalization"))
    return add(multiply(x, inv), res)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    eps = _backend.epsilon() if epsilon is None else epsilon
    if not isinstance(x, GraphTensor):
        x = _np_float(x)
        if x.ndim == 0:
            x = x[None]
    out = multiply(x, rsqrt(add(mean(square(x), axis=axis, keepdims=True), eps)))
    return out if scale is None else multiply(out, scale)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    if not isinstance(x, GraphTensor):
        x = _np_float(x)
    ndim = len(_shape(x))
    axes = [axis % ndim]
    mean_, variance = (_along(v, axes, ndim, "batch_normalization") for v in (mean, variance))
    inv = rsqrt(add(_lift(x, variance), epsilon))
    if scale is not None:
        inv = multiply(inv, _along(scale, axes, ndim, "batch_normalization"))
    res = negative(multiply(_lift(x, mean_), inv))
    if offset is not None:
        res = add(res, _along(offset, axes, ndim, "batch_normalization"))
    return add(multiply(x, inv), res)


def normalize(x, axis=-1, order=2, epsilon=None):
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"ember.ops.normalize: order must be an int >= 1, got {order!r}")
    eps = _backend.epsilon() if epsilon is None else epsilon
    if not isinstance(x, GraphTensor):
        x = _np_float(x)
        if x.ndim == 0:
            x = x[None]
    if order == 2:
        inv = minimum(rsqrt(sum(square(x), axis=axis, keepdims=True)), 1.0 / eps)
        return multiply(x, inv)
    return divide(x, maximum(norm(x, ord=order, axis=axis, keepdims=True), eps))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """1 where the last axis's position equals x's value (0 everywhere for an index out of
    range, as jax)."""
    if sparse:
        raise ValueError("ember.ops.one_hot: sparse tensors are not supported")
    if isinstance(x, GraphTensor):
        if dtype is not None and np.dtype(dtype) != _F32:
            raise ValueError(f"ember.ops.one_hot: graph values are float32; cannot make {dtype}")
        out = equal(expand_dims(x, -1), np.arange(num_classes, dtype=_F32))
        return out if axis in (-1, out.ndim - 1) else moveaxis(out, -1, axis)
    _check_weights_alone("one_hot", x)
    a = np.asarray(_np(x))
    out = (a[..., None] == np.arange(num_classes)).astype(dtype or _F32)
    return out if axis == -1 else np.moveaxis(out, -1, axis)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    num_classes = kwargs.pop("num_tokens", num_classes)
    if num_classes is None:
        raise ValueError("ember.ops.multi_hot: give num_classes")
    hot = one_hot(inputs, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    rank = len(_shape(inputs))
    reduce_axis = -1 if rank == 1 else -2
    if isinstance(hot, GraphTensor):
        return max(hot, axis=reduce_axis)
    return hot.max(axis=0 if rank == 1 else reduce_axis)


def top_k(x, k, sorted=True):  # noqa: A002  (Keras's name)
    """The k largest along the last axis and their int32 indices (the lower index first on a
    tie, as jax)."""
    _eager("top_k", x, why="its indices depend on the values")
    a = np.asarray(_np(x))
    idx = np.argsort(-a if a.dtype != np.bool_ else ~a, axis=-1, kind="stable")[..., :k]
    return _out(np.take_along_axis(a, idx, axis=-1)), idx.astype(np.int32)


def in_top_k(targets, predictions, k):
    """Whether each target's prediction ranks within the top k: 1 + the number of larger
    predictions is at most k (a NaN prediction ranks last), as Keras's jax backend."""
    _eager("in_top_k", targets, predictions, why="it compares ranks that depend on the values")
    p = _np_float(predictions)
    t = np.asarray(_np(targets)).astype(np.int64)
    at_label = np.take_along_axis(p, t[..., None], axis=-1)
    at_label = np.where(np.isnan(at_label), -np.inf, at_label)
    return 1 + np.sum(p > at_label, axis=-1) <= k


def psnr(x1, x2, max_val):
    _eager("psnr", x1, x2, why="it reduces over every axis, the batch axis included")
    a, b = _np_float(x1), _np_float(x2)
    mse = np.mean(np.square(a - b))
    return _out(np.asarray(20.0 * np.log10(max_val) - 10.0 * np.log10(mse), dtype=a.dtype))


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise, unreduced (as keras.ops.binary_crossentropy)."""
    if from_logits:
        return negative(add(multiply(target, log_sigmoid(output)),
                            multiply(subtract(1.0, target), log_sigmoid(negative(output)))))
    eps = _backend.epsilon()
    out = clip(output, eps, 1.0 - eps)
    return negative(add(multiply(target, log(out)),
                        multiply(subtract(1.0, target), log(subtract(1.0, out)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    if from_logits:
        return negative(sum(multiply(target, log_softmax(output, axis=axis)), axis=axis))
    eps = _backend.epsilon()
    out = divide(output, sum(output, axis=axis, keepdims=True))
    out = clip(out, eps, 1.0 - eps)
    return negative(sum(multiply(target, log(out)), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    n = _shape(output)[axis]
    if not isinstance(target, GraphTensor):
        target = np.asarray(_np(target))
        if target.ndim == len(_shape(output)) and target.shape[-1] == 1:
            target = target[..., 0]
    elif target.ndim == len(_shape(output)) and target.shape[-1] == 1:
        target = squeeze(target, axis=-1)
    return categorical_crossentropy(one_hot(target, n, axis=axis), output, from_logits, axis)


def _pixel_shuffle(to_space, block, data_format):
    def fn(a):
        n = a.shape[0]
        if data_format == "channels_last":
            _, h, w, c = a.shape
            if to_space:
                a = a.reshape(n, h, w, block, block, c // block ** 2).transpose(0, 1, 3, 2, 4, 5)
                return a.reshape(n, h * block, w * block, c // block ** 2)
            a = a.reshape(n, h // block, block, w // block, block, c).transpose(0, 1, 3, 2, 4, 5)
            return a.reshape(n, h // block, w // block, c * block ** 2)
        _, c, h, w = a.shape
        if to_space:
            a = a.reshape(n, c // block ** 2, block, block, h, w).transpose(0, 1, 4, 2, 5, 3)
            return a.reshape(n, c // block ** 2, h * block, w * block)
        a = a.reshape(n, c, h // block, block, w // block, block).transpose(0, 1, 3, 5, 2, 4)
        return a.reshape(n, c * block ** 2, h // block, w // block)

    return fn


def _shuffle_op(name, to_space, x, block_size, data_format):
    if len(_shape(x)) != 4:
        raise ValueError(f"ember.ops.{name}: x must be 4-D, got shape {_shape(x)}")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"ember.ops.{name}: unknown data_format {data_format!r}")
    fn = _pixel_shuffle(to_space, int(block_size), data_format)
    if isinstance(x, GraphTensor):
        return _lowered(x, name, fn)
    _check_weights_alone(name, x)
    return _out(fn(np.asarray(_np(x))))


def depth_to_space(x, block_size, data_format="channels_last"):
    return _shuffle_op("depth_to_space", True, x, block_size, data_format)


def space_to_depth(x, block_size, data_format="channels_last"):
    return _shuffle_op("space_to_depth", False, x, block_size, data_format)


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Per-sample CTC loss of logits `output` (batch, time, classes) for int `target` (batch,
    labels): the forward algorithm in log space, as Keras's jax backend (optax's) runs it,
    with -1e5 standing for log 0."""
    _eager("ctc_loss", target, output, target_length, output_length,
           why="its recursion runs over time steps; use the CTC loss in compile() instead")
    labels = np.asarray(_np(target)).astype(np.int64)
    logits = _np_float(output).astype(np.float64)
    batch, steps, classes = logits.shape
    max_labels = labels.shape[1]
    eps = -1e5
    label_len = np.asarray(_np(target_length)).astype(np.int64).reshape(batch)
    out_pad = (np.arange(steps)[None] >= np.asarray(_np(output_length)).reshape(batch, 1))
    shifted = logits - logits.max(-1, keepdims=True)
    logprobs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    repeat = np.pad((labels[:, :-1] == labels[:, 1:]).astype(np.float64), ((0, 0), (0, 1)))
    emit = np.take_along_axis(logprobs, labels[:, None, :].repeat(steps, 1), axis=-1)
    blank = logprobs[:, :, mask_index]

    def add_to_phi(phi, score):
        return np.concatenate([phi[:, :1], np.logaddexp(phi[:, 1:], score)], axis=-1)

    phi = np.full((batch, max_labels + 1), eps)
    phi[:, 0] = 0.0
    em = np.full((batch, max_labels), eps)
    for t in range(steps):
        prev_phi_orig = phi
        prev_phi = add_to_phi(phi, em + eps * repeat)
        next_emit = np.logaddexp(prev_phi[:, :-1] + emit[:, t], em + emit[:, t])
        next_phi = add_to_phi(prev_phi + blank[:, t, None],
                              em + blank[:, t, None] + eps * (1.0 - repeat))
        pad = out_pad[:, t, None]
        em = np.where(pad, em, next_emit)
        phi = np.where(pad, prev_phi_orig, next_phi)
    last = add_to_phi(phi, em)
    return (-last[np.arange(batch), label_len]).astype(_F32)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Greedy CTC decoding: (decoded (1, batch, time) padded with -1, -sum of the chosen
    logits (batch, 1)), as Keras's jax backend."""
    _eager("ctc_decode", inputs, sequence_lengths, why="its output length depends on the "
           "values")
    if strategy != "greedy":
        raise NotImplementedError(f"ember.ops.ctc_decode: strategy={strategy!r} is not built "
                                  "yet; use strategy='greedy'")
    x = _np_float(inputs)
    batch, steps, classes = x.shape
    lengths = np.asarray(_np(sequence_lengths)).astype(np.int64).reshape(batch)
    if mask_index is None:
        mask_index = classes - 1
    indices = np.argmax(x, axis=-1)
    scores = np.max(x, axis=-1)
    valid = np.arange(steps)[None] < lengths[:, None]
    indices = np.where(valid, indices, mask_index)
    scores = np.where(valid, scores, 0.0)
    keep = indices != mask_index
    if merge_repeated:
        keep &= np.concatenate([np.ones((batch, 1), bool), indices[:, 1:] != indices[:, :-1]],
                               axis=1)
    decoded = np.full((batch, steps), -1, np.int32)
    for b in range(batch):
        kept = indices[b][keep[b]]
        decoded[b, :kept.size] = kept
    return decoded[None], (-np.sum(scores, axis=1, keepdims=True)).astype(_F32)
