"""Keras's linear algebra ops (`keras.ops.linalg`), eagerly with NumPy in float32.

Decompositions and solves have no engine kernels, so on graph values they raise; `norm`
of vectors (and of matrices, Frobenius, 1 and inf) is recorded from reductions.
"""

import numpy as np

from ember._ops import (
    GraphTensor,
    _np_float,
    _out,
    max,
    min,
    power,
    sqrt,
    square,
    sum,
)
from ember._ops_numpy import _eager, abs, not_equal


def _matrix_op(name, fn):
    def op(*args, **kwargs):
        _eager(name, *args, why="decompositions and solves have no engine kernels")
        with np.errstate(all="ignore"):
            out = fn(*[_np_float(a) for a in args], **kwargs)
        if isinstance(out, tuple):
            return tuple(_out(o) for o in out)
        return _out(out)

    op.__name__ = name
    return op


def _cholesky(x, upper=False):
    if not np.allclose(x, np.swapaxes(x, -1, -2), rtol=1e-5, atol=1e-6):
        raise ValueError("ember.ops.cholesky: the input is not symmetric")
    try:
        low = np.linalg.cholesky(x)
    except np.linalg.LinAlgError:
        raise ValueError("ember.ops.cholesky: the input is not positive definite") from None
    return np.swapaxes(low, -1, -2).conj() if upper else low


def _cholesky_inverse(x, upper=False):
    low = np.swapaxes(x, -1, -2).conj() if upper else x
    return np.linalg.inv(low @ np.swapaxes(low, -1, -2).conj())


def _solve_triangular(a, b, lower=False):
    # NumPy has no triangular solve; the general solve of the triangle gives the same.
    tri = np.tril(a) if lower else np.triu(a)
    return np.linalg.solve(tri, b if b.ndim == a.ndim else b[..., None]) if b.ndim == a.ndim \
        else np.linalg.solve(tri, b[..., None])[..., 0]


def _solve(a, b):
    if b.ndim == a.ndim - 1:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


def _lu_factor(x):
    """Packed LU (L's unit diagonal implied) and 0-based pivots, as jax.scipy's lu_factor."""
    a = np.array(x, dtype=np.float64)
    n = a.shape[-1]
    flat = a.reshape(-1, n, n)
    pivots = np.zeros((flat.shape[0], n), np.int32)
    for m, piv in zip(flat, pivots):
        for k in range(n):
            p = k + int(np.argmax(np.abs(m[k:, k])))
            piv[k] = p
            if p != k:
                m[[k, p]] = m[[p, k]]
            if m[k, k] != 0:
                m[k + 1:, k] /= m[k, k]
                m[k + 1:, k + 1:] -= np.outer(m[k + 1:, k], m[k, k + 1:])
    return flat.reshape(a.shape).astype(x.dtype), pivots.reshape(a.shape[:-2] + (n,))


def _lstsq(a, b, rcond=None):
    return np.linalg.lstsq(a, b, rcond=rcond)[0]


def _svd(x, full_matrices=True, compute_uv=True):
    return np.linalg.svd(x, full_matrices=full_matrices, compute_uv=compute_uv)


def _matrix_rank(x, tol=None):
    return np.linalg.matrix_rank(x, tol)


cholesky = _matrix_op("cholesky", _cholesky)
cholesky_inverse = _matrix_op("cholesky_inverse", _cholesky_inverse)
det = _matrix_op("det", np.linalg.det)
eig = _matrix_op("eig", lambda x: tuple(np.linalg.eig(x)))
eigh = _matrix_op("eigh", lambda x: tuple(np.linalg.eigh(x)))
inv = _matrix_op("inv", np.linalg.inv)
logdet = _matrix_op("logdet", lambda x: np.linalg.slogdet(x)[1])
lstsq = _matrix_op("lstsq", _lstsq)
lu_factor = _matrix_op("lu_factor", _lu_factor)
matrix_rank = _matrix_op("matrix_rank", _matrix_rank)
pinv = _matrix_op("pinv", lambda x, rcond=None: np.linalg.pinv(x) if rcond is None
                  else np.linalg.pinv(x, rcond))
qr = _matrix_op("qr", lambda x, mode="reduced": tuple(np.linalg.qr(x, mode=mode)))
solve = _matrix_op("solve", _solve)
solve_triangular = _matrix_op("solve_triangular", _solve_triangular)


def svd(x, full_matrices=True, compute_uv=True):
    out = _matrix_op("svd", _svd)(x, full_matrices=full_matrices, compute_uv=compute_uv)
    return out


def jvp(fun, primals, tangents, has_aux=False):
    raise NotImplementedError("ember.ops.jvp: ember differentiates the graphs a model records "
                              "(reverse mode, inside fit); it has no forward-mode autodiff "
                              "of Python functions")


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (Keras's name)
    if not isinstance(x, GraphTensor):
        _eager("norm", x)
        a = _np_float(x)
        if isinstance(axis, list):
            axis = tuple(axis)
        return _out(np.linalg.norm(a, ord=ord, axis=axis, keepdims=keepdims))
    if axis is None:
        raise ValueError("ember.ops.norm: axis=None would take the norm over the batch axis "
                         "too; inside a layer give axis")
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    if len(axes) == 2:
        if ord in (None, "fro"):
            return sqrt(sum(square(x), axis=axes, keepdims=keepdims))
        if ord in (1, -1, np.inf, -np.inf):
            # Sum over rows, then the max/min over columns (1) or the reverse (inf).
            inner_axis, outer_axis = (axes[0], axes[1]) if ord in (1, -1) else (axes[1], axes[0])
            s = sum(abs(x), axis=inner_axis, keepdims=True)
            pick = max if ord in (1, np.inf) else min
            out = pick(s, axis=outer_axis, keepdims=True)
            if not keepdims:
                from ember._ops import squeeze
                out = squeeze(out, axis=list(axes))
            return out
        raise _eager_error(f"norm ord={ord!r} of matrices (it needs singular values)")
    if ord is None or ord == 2:
        return sqrt(sum(square(x), axis=axis, keepdims=keepdims))
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return max(abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return sum(not_equal(x, 0.0), axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"ember.ops.norm: ord={ord!r} is a matrix norm; give two axes")
    return power(sum(power(abs(x), float(ord)), axis=axis, keepdims=keepdims), 1.0 / ord)


def _eager_error(what):
    return NotImplementedError(f"ember.ops.{what} cannot be recorded in a model's graph; "
                               "call it on arrays instead")


slogdet = _matrix_op("slogdet", lambda x: tuple(np.linalg.slogdet(x)))
