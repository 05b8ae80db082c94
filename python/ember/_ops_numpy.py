"""The rest of Keras's NumPy-like ops (`keras.ops.numpy`): creation, elementwise math,
comparisons and logic, reductions, shape and indexing ops, einsum.

Eagerly each is NumPy, in the dtypes Keras gives. On graph values each is recorded from
the engine's ops (ember._ops): elementwise kinds, reductions, gathers and matrix
products, so the engine differentiates it. Index-only ops (flip, roll, tile, pad, ...)
are lowered to one gather by running the NumPy function on the row's element positions
(`_lowered`). Ops whose result shape or indices depend on the values (nonzero, unique,
argmax, sort, ...) have no graph form and say so.
"""

import builtins
import math

import numpy as np

from ember._ops import (
    _F32,
    GraphTensor,
    _binary,
    _check_weights_alone,
    _gather,
    _graph_of,
    _normalize_axis,
    _np,
    _np_float,
    _out,
    _positions,
    _reduce,
    _reshaped,
    _shape,
    _unary,
    abs,
    add,
    concatenate,
    divide,
    exp,
    expand_dims,
    log,
    matmul,
    max,
    maximum,
    mean,
    min,
    multiply,
    negative,
    power,
    reciprocal,
    reshape,
    sign,
    sqrt,
    square,
    subtract,
    sum,
    take,
    transpose,
)
from ember._ops_core import stop_gradient
from ember._ops_einsum import einsum_graph


def _graph_only_error(op, why):
    return NotImplementedError(f"ember.ops.{op} cannot be recorded in a model's graph: {why}. "
                               "Call it on arrays (outside a layer's call()) instead.")


def _eager(op, *values, why="its result depends on the values, not only their shapes"):
    """Refuses graph values for an op that has no graph form."""
    if builtins.any(isinstance(v, GraphTensor) for v in values):
        raise _graph_only_error(op, why)
    _check_weights_alone(op, *values)


def _row_axis(x, axis, op):
    return _normalize_axis(axis, x.ndim, op) - 1


def _lowered(x, op, fn):
    """Records fn - a NumPy function that only moves elements (flip, tile, pad in a
    non-constant mode, ...) - as gathers: fn runs on the element positions of two rows
    stacked on a leading batch axis; a result that moved, mixed or resized that axis
    raises. fn may return one array or a list of them (split)."""
    n = math.prod(x._row)
    both = np.stack([_positions(x), _positions(x) + n])
    out = fn(both)
    outs = out if isinstance(out, (list, tuple)) else [out]
    results = []
    for o in outs:
        o = np.asarray(o)
        if (o.ndim == 0 or o.shape[0] != 2 or (o[0] >= n).any() or (o[1] < n).any()
                or not np.array_equal(o[1] - n, o[0])):
            raise ValueError(f"ember.ops.{op}: inside a layer these arguments would move, mix "
                             f"or resize the batch axis of {x.shape}; keep it first, as is")
        results.append(_gather(x, o.shape[1:], o[0], op))
    return results if isinstance(out, (list, tuple)) else results[0]


def _row_mask(x, fn, op):
    """A constant fn(ones) of x's full shape for a graph x, checked to be the same on
    every sample (so it can multiply rows as a constant)."""
    m = np.asarray(fn(np.ones((2,) + x._row, _F32)), dtype=_F32)
    if m.shape != (2,) + x._row or not np.array_equal(m[0], m[1]):
        raise ValueError(f"ember.ops.{op}: inside a layer these arguments would act across "
                         f"the batch axis of {x.shape}")
    return m[:1]


def _axes_tuple(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


# ---------------------------------------------------------------------------
# creation
# ---------------------------------------------------------------------------
def _creation_dtype(dtype, *values):
    """Keras's default dtype for arange-like ops: int32 from Python/NumPy integers, else
    float32."""
    if dtype is not None:
        return np.dtype(dtype)
    kinds = [np.asarray(v).dtype for v in values if v is not None]
    if builtins.all(np.issubdtype(k, np.integer) or k == np.bool_ for k in kinds):
        return np.dtype(np.int32)
    return np.dtype(_F32)


def arange(start, stop=None, step=None, dtype=None):
    _eager("arange", start, stop, step)
    dt = _creation_dtype(dtype, start, stop, step)
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, 1 if step is None else step).astype(dt)


def full(shape, fill_value, dtype=None):
    _eager("full", fill_value, why="its shape must be known")
    return np.full(shape, _np(fill_value), dtype=dtype or _F32)


def full_like(x, fill_value, dtype=None):
    if isinstance(x, GraphTensor):
        if dtype is not None and np.dtype(dtype) != _F32:
            raise ValueError(f"ember.ops.full_like: graph values are float32; cannot make {dtype}")
        return add(multiply(x, 0.0), fill_value)
    return np.full_like(np.asarray(_np(x)), _np(fill_value), dtype=dtype)


def empty(shape, dtype=None):
    return np.zeros(shape, dtype or _F32)


def empty_like(x, dtype=None):
    return full_like(x, 0, dtype=dtype)


def eye(N, M=None, k=0, dtype=None):  # noqa: N803  (Keras's names)
    return np.eye(N, M, k, dtype=dtype or _F32)


def identity(n, dtype=None):
    return np.identity(n, dtype=dtype or _F32)


def tri(N, M=None, k=0, dtype=None):  # noqa: N803
    return np.tri(N, M, k, dtype=dtype or _F32)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    _eager("linspace", start, stop)
    out = np.linspace(_np(start), _np(stop), num, endpoint, retstep, dtype, axis)
    if retstep:
        return _out(out[0]).astype(dtype or _F32), out[1]
    return _out(out).astype(dtype or _F32)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    _eager("logspace", start, stop)
    return np.logspace(_np(start), _np(stop), num, endpoint, base, None, axis).astype(
        dtype or _F32)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    _eager("geomspace", start, stop)
    return np.geomspace(_np(start), _np(stop), num, endpoint, None, axis).astype(dtype or _F32)


def meshgrid(*x, indexing="xy"):
    _eager("meshgrid", *x)
    return [_out(g) for g in np.meshgrid(*[_np(v) for v in x], indexing=indexing)]


def vander(x, N=None, increasing=False):  # noqa: N803
    _eager("vander", x)
    return _out(np.vander(_np(x), N, increasing))


def _window(fn):
    def window(x):
        return np.asarray(fn(int(x)), dtype=_F32)

    window.__name__ = fn.__name__
    return window


bartlett, blackman, hamming, hanning = (_window(f) for f in (np.bartlett, np.blackman,
                                                              np.hamming, np.hanning))


def kaiser(x, beta):
    return np.kaiser(int(x), beta).astype(_F32)


# ---------------------------------------------------------------------------
# elementwise math
# ---------------------------------------------------------------------------
def sin(x):
    return _unary("sin", x, np.sin)


def cos(x):
    return _unary("cos", x, np.cos)


def tan(x):
    return _unary("tan", x, np.tan)


def arcsin(x):
    return _unary("arcsin", x, np.arcsin)


def arccos(x):
    return _unary("arccos", x, np.arccos)


def arctan(x):
    return _unary("arctan", x, np.arctan)


def sinh(x):
    return _unary("sinh", x, np.sinh)


def cosh(x):
    return _unary("cosh", x, np.cosh)


def arcsinh(x):
    return _unary("arcsinh", x, np.arcsinh)


def arccosh(x):
    return _unary("arccosh", x, np.arccosh)


def arctanh(x):
    return _unary("arctanh", x, np.arctanh)


def log1p(x):
    return _unary("log1p", x, np.log1p)


def expm1(x):
    return _unary("expm1", x, np.expm1)


def log2(x):
    if isinstance(x, GraphTensor):
        return multiply(log(x), 1.0 / math.log(2.0))
    return _unary("log2", x, np.log2)


def log10(x):
    if isinstance(x, GraphTensor):
        return multiply(log(x), 1.0 / math.log(10.0))
    return _unary("log10", x, np.log10)


def exp2(x):
    if isinstance(x, GraphTensor):
        return exp(multiply(x, math.log(2.0)))
    return _unary("exp2", x, np.exp2)


def floor(x):
    return _unary("floor", x, np.floor)


def ceil(x):
    return _unary("ceil", x, np.ceil)


def trunc(x):
    return _unary("trunc", x, np.trunc, keeps_int=True)


def round(x, decimals=0):  # noqa: A001
    """Half to even, as jnp.round."""
    if decimals == 0:
        return _unary("round", x, np.round, keeps_int=True)
    if isinstance(x, GraphTensor):
        scale = 10.0 ** decimals
        return divide(_unary("round", multiply(x, scale), np.round), scale)
    return _unary("round", x, lambda a: np.round(a, decimals), keeps_int=True)


def fabs(x):
    if isinstance(x, GraphTensor):
        return abs(x)
    return _out(np.fabs(_np_float(x)))


def cbrt(x):
    if isinstance(x, GraphTensor):
        return multiply(sign(x), power(abs(x), 1.0 / 3.0))
    return _unary("cbrt", x, np.cbrt)


def rsqrt(x):
    if isinstance(x, GraphTensor):
        return reciprocal(sqrt(x))
    return _unary("rsqrt", x, lambda a: 1.0 / np.sqrt(a))


def erf(x):
    if isinstance(x, GraphTensor):
        return _unary("erf", x, None)
    _check_weights_alone("erf", x)
    a = _np_float(x)
    return np.vectorize(math.erf, otypes=[a.dtype])(a) if a.size else a.copy()


def erfinv(x):
    """The inverse of erf: Giles's single-precision approximation, polished by two Newton
    steps in float64."""
    _eager("erfinv", x, why="it has no engine kernel yet")
    a = _np_float(x)
    v = a.astype(np.float64)
    w = -np.log((1.0 - v) * (1.0 + v))
    small = w < 5.0
    ws, wl = w - 2.5, np.sqrt(np.maximum(w, 5.0)) - 3.0
    ps = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                     0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
                     1.50140941], ws)
    pl = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                     0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], wl)
    y = np.where(small, ps, pl) * v
    verf = np.vectorize(math.erf, otypes=[np.float64])
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(2):
            finite = np.isfinite(y) & (np.abs(v) < 1.0)
            step = (verf(np.where(finite, y, 0.0)) - v) / (2.0 / math.sqrt(math.pi)
                                                           * np.exp(-y * y))
            y = np.where(finite, y - step, y)
    y = np.where(v == 1.0, np.inf, np.where(v == -1.0, -np.inf, y))
    return y.astype(a.dtype)


def erfc(x):
    return subtract(1.0, erf(x))


def deg2rad(x):
    if isinstance(x, GraphTensor):
        return multiply(x, math.pi / 180.0)
    return _out(np.deg2rad(_np_float(x)))


def rad2deg(x):
    if isinstance(x, GraphTensor):
        return multiply(x, 180.0 / math.pi)
    return _out(np.rad2deg(_np_float(x)))


def sinc(x):
    _eager("sinc", x, why="it has no engine kernel yet")
    return _out(np.sinc(_np_float(x)))


def i0(x):
    _eager("i0", x, why="it has no engine kernel yet")
    return _out(np.i0(_np_float(x)))


def arctan2(x1, x2):
    if _graph_of(x1, x2) is None:
        return _out(np.arctan2(_np_float(x1), _np_float(x2)))
    return _binary("arctan2", x1, x2, np.arctan2)


def hypot(x1, x2):
    if _graph_of(x1, x2) is None:
        return _out(np.hypot(_np_float(x1), _np_float(x2)))
    return sqrt(add(square(x1), square(x2)))


def logaddexp(x1, x2):
    """max + log1p(exp(-|x1 - x2|)), as jnp.logaddexp."""
    if _graph_of(x1, x2) is None:
        return _out(np.logaddexp(_np_float(x1), _np_float(x2)))
    return add(maximum(x1, x2), log1p(exp(negative(abs(subtract(x1, x2))))))


def logaddexp2(x1, x2):
    if _graph_of(x1, x2) is None:
        return _out(np.logaddexp2(_np_float(x1), _np_float(x2)))
    ln2 = math.log(2.0)
    return divide(logaddexp(multiply(x1, ln2), multiply(x2, ln2)), ln2)


def floor_divide(x1, x2):
    return _binary("floor_divide", x1, x2, np.floor_divide)


def mod(x1, x2):
    return _binary("mod", x1, x2, np.mod)


def fmod(x1, x2):
    _eager("fmod", x1, x2, why="it has no engine kernel yet")
    return _out(np.fmod(_np(x1), _np(x2)))


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 is 0."""
    if _graph_of(x1, x2) is None:
        a, b = _np_float(x1), _np_float(x2)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _out(np.where(b == 0, np.zeros((), np.result_type(a, b)), a / b))
    nonzero = not_equal(x2, 0.0)
    return multiply(divide(x1, add(x2, subtract(1.0, nonzero))), nonzero)


def fmax(x1, x2):
    _eager("fmax", x1, x2, why="it has no engine kernel yet")
    return _out(np.fmax(_np(x1), _np(x2)))


def fmin(x1, x2):
    _eager("fmin", x1, x2, why="it has no engine kernel yet")
    return _out(np.fmin(_np(x1), _np(x2)))


def heaviside(x1, x2):
    if _graph_of(x1, x2) is None:
        return _out(np.heaviside(_np_float(x1), _np_float(x2)))
    return add(greater(x1, 0.0), multiply(equal(x1, 0.0), x2))


def copy(x):
    if isinstance(x, GraphTensor):
        return x
    return np.array(_np(x), copy=True)


def conj(x):
    if isinstance(x, GraphTensor):
        return x
    return _out(np.conj(_np(x)))


conjugate = conj


def real(x):
    if isinstance(x, GraphTensor):
        return x
    return _out(np.real(_np(x)))


def imag(x):
    if isinstance(x, GraphTensor):
        return multiply(x, 0.0)
    return _out(np.imag(_np(x)))


def angle(x):
    _eager("angle", x, why="it has no engine kernel yet")
    return _out(np.angle(_np_float(x)))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    _eager("nan_to_num", x, why="it has no engine kernel yet")
    return _out(np.nan_to_num(_np(x), nan=nan, posinf=posinf, neginf=neginf))


def ldexp(x1, x2):
    _eager("ldexp", x1, x2, why="it has no engine kernel yet")
    return _out(np.ldexp(_np_float(x1), _np(x2)))


def nextafter(x1, x2):
    _eager("nextafter", x1, x2, why="it has no engine kernel yet")
    return _out(np.nextafter(_np_float(x1), _np_float(x2)))


def signbit(x):
    _eager("signbit", x, why="its result is boolean")
    return np.signbit(_np(x))


# ---------------------------------------------------------------------------
# comparisons and logic: booleans eagerly, 1.0 / 0.0 in a graph (whose values are float32)
# ---------------------------------------------------------------------------
def equal(x1, x2):
    return _binary("equal", x1, x2, np.equal)


def not_equal(x1, x2):
    return _binary("not_equal", x1, x2, np.not_equal)


def greater(x1, x2):
    return _binary("greater", x1, x2, np.greater)


def greater_equal(x1, x2):
    return _binary("greater_equal", x1, x2, np.greater_equal)


def less(x1, x2):
    return _binary("less", x1, x2, np.less)


def less_equal(x1, x2):
    return _binary("less_equal", x1, x2, np.less_equal)


def _truth(x):
    return not_equal(x, 0.0)


def logical_not(x):
    if isinstance(x, GraphTensor):
        return equal(x, 0.0)
    return np.logical_not(_np(x))


def logical_and(x1, x2):
    if _graph_of(x1, x2) is None:
        return np.logical_and(_np(x1), _np(x2))
    return multiply(_truth(x1), _truth(x2))


def logical_or(x1, x2):
    if _graph_of(x1, x2) is None:
        return np.logical_or(_np(x1), _np(x2))
    return maximum(_truth(x1), _truth(x2))


def logical_xor(x1, x2):
    if _graph_of(x1, x2) is None:
        return np.logical_xor(_np(x1), _np(x2))
    return not_equal(_truth(x1), _truth(x2))


def isnan(x):
    if isinstance(x, GraphTensor):
        return not_equal(x, x)
    return np.isnan(_np(x))


def isinf(x):
    if isinstance(x, GraphTensor):
        return equal(abs(x), np.inf)
    return np.isinf(_np(x))


def isfinite(x):
    if isinstance(x, GraphTensor):
        return less(abs(x), np.inf)
    return np.isfinite(_np(x))


def isneginf(x):
    if isinstance(x, GraphTensor):
        return equal(x, -np.inf)
    return np.isneginf(_np(x))


def isposinf(x):
    if isinstance(x, GraphTensor):
        return equal(x, np.inf)
    return np.isposinf(_np(x))


def isreal(x):
    if isinstance(x, GraphTensor):
        return equal(x, x * 0.0 + x)
    return np.isreal(_np(x))


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    if _graph_of(x1, x2) is None:
        return np.isclose(_np(x1), _np(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)
    close = less_equal(abs(subtract(x1, x2)), add(multiply(abs(x2), rtol), atol))
    return maximum(close, logical_and(isnan(x1), isnan(x2))) if equal_nan else close


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    _eager("allclose", x1, x2, why="it returns a Python-level truth value")
    return np.asarray(np.allclose(_np(x1), _np(x2), rtol=rtol, atol=atol, equal_nan=equal_nan))


def where(condition, x1=None, x2=None):
    """Eagerly NumPy's where. In a graph, condition * x1 + (1 - condition) * x2: the
    gradient reaches x1 where condition holds and x2 elsewhere, as jax's; x1 and x2
    constants must be finite there (0 * inf is NaN), e.g. -1e9 rather than -inf."""
    if (x1 is None) != (x2 is None):
        raise ValueError("ember.ops.where: give both x1 and x2, or neither")
    if _graph_of(condition, x1, x2) is None:
        _check_weights_alone("where", condition, x1, x2)
        if x1 is None:
            return tuple(_out(i) for i in np.nonzero(_np(condition)))
        return _out(np.where(_np(condition), _np(x1), _np(x2)))
    if x1 is None:
        raise _graph_only_error("where", "where(condition) returns the indices where it "
                                "holds, whose number depends on the values")
    for v in (x1, x2):
        if not isinstance(v, GraphTensor) and not np.isfinite(_np_float(v)).all():
            raise ValueError("ember.ops.where: inside a layer, constant operands must be finite "
                             "(the selection multiplies by 0 and 1, and 0 * inf is NaN); use a "
                             "large finite value such as -1e9 instead")
    if isinstance(condition, GraphTensor):
        c = _truth(condition)
        return add(multiply(c, x1), multiply(subtract(1.0, c), x2))
    c = np.asarray(_np(condition)).astype(bool).astype(_F32)
    return add(multiply(x1, c), multiply(x2, 1.0 - c))


def select(condlist, choicelist, default=0):
    """The first choice whose condition holds, else default (NumPy's select)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"ember.ops.select: condlist has {len(condlist)} entries but "
                         f"choicelist has {len(choicelist)}")
    if _graph_of(*condlist, *choicelist, default) is None:
        _check_weights_alone("select", *condlist, *choicelist)
        return _out(np.select([np.asarray(_np(c)) for c in condlist],
                              [np.asarray(_np(c)) for c in choicelist], _np(default)))
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = where(cond, choice, out)
    return out


# ---------------------------------------------------------------------------
# reductions
# ---------------------------------------------------------------------------
def _reduced_truth(kind, x, axis, keepdims, numpy_fn):
    if not isinstance(x, GraphTensor):
        _check_weights_alone(kind, x)
        return numpy_fn(_np(x), axis=_axes_tuple(axis), keepdims=keepdims)
    return _reduce("min" if kind == "all" else "max", _truth(x), axis, keepdims, None)


def all(x, axis=None, keepdims=False):  # noqa: A001
    return _reduced_truth("all", x, axis, keepdims, np.all)


def any(x, axis=None, keepdims=False):  # noqa: A001
    return _reduced_truth("any", x, axis, keepdims, np.any)


def amax(x, axis=None, keepdims=False):
    return max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    return min(x, axis=axis, keepdims=keepdims)


def _to_last(x, axis, op):
    """x with row axis `axis` (of the full shape) moved last, and that axis's length."""
    a = _row_axis(x, axis, op)
    perm = [0] + [i + 1 for i in range(len(x._row)) if i != a] + [a + 1]
    return (x if a == len(x._row) - 1 else transpose(x, perm)), x._row[a], a


def _from_last(y, a):
    """Undoes _to_last for a result with the same rank."""
    if a == len(y._row) - 1:
        return y
    r = len(y._row)
    perm = [0] + list(range(1, a + 1)) + [r] + list(range(a + 1, r))
    return transpose(y, perm)


def _pairwise_product(x, op):
    """The product along x's last row axis, in halving steps of gathers and multiplies."""
    while x._row[-1] > 1:
        n = x._row[-1]
        half = n // 2
        prod_ = multiply(x[..., :half], x[..., half:2 * half])
        x = concatenate([prod_, x[..., 2 * half:]], axis=-1) if n % 2 else prod_
    return x


def prod(x, axis=None, keepdims=False, dtype=None):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("prod", x)
        return _out(np.prod(_np(x), axis=_axes_tuple(axis), keepdims=keepdims, dtype=dtype))
    if axis is None:
        raise ValueError("ember.ops.prod: axis=None would reduce over the batch axis too; "
                         "inside a layer, name the axes to reduce (e.g. axis=-1)")
    axes = sorted({_row_axis(x, a, "prod") for a in
                   (axis if isinstance(axis, (list, tuple)) else (axis,))}, reverse=True)
    for a in axes:
        moved, _, _ = _to_last(x, a + 1, "prod")
        x = _from_last(_pairwise_product(moved, "prod"), a)
        if not keepdims:
            x = _reshaped(x, [d for i, d in enumerate(x._row) if i != a], "prod")
    return x


def cumsum(x, axis=None, dtype=None):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("cumsum", x)
        return _out(np.cumsum(_np(x), axis=axis, dtype=dtype))
    if axis is None:
        raise ValueError("ember.ops.cumsum: axis=None flattens the batch axis too; inside a "
                         "layer give an axis")
    moved, n, a = _to_last(x, axis, "cumsum")
    # One GEMM with the upper-triangular ones: out[j] = sum over i <= j of x[i].
    return _from_last(matmul(moved, np.triu(np.ones((n, n), _F32))), a)


def cumprod(x, axis=None, dtype=None):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("cumprod", x)
        return _out(np.cumprod(_np(x), axis=axis, dtype=dtype))
    if axis is None:
        raise ValueError("ember.ops.cumprod: axis=None flattens the batch axis too; inside a "
                         "layer give an axis")
    moved, n, a = _to_last(x, axis, "cumprod")
    # Hillis-Steele: after the step with shift s, each entry holds the product of the
    # 2s entries ending at it.
    s = 1
    while s < n:
        ones = add(multiply(moved[..., :s], 0.0), 1.0)
        moved = multiply(moved, concatenate([ones, moved[..., :n - s]], axis=-1))
        s *= 2
    return _from_last(moved, a)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) shifted by the (gradient-stopped) max, as jax computes it."""
    if not isinstance(x, GraphTensor):
        _check_weights_alone("logsumexp", x)
        a = _np_float(x)
        ax = _axes_tuple(axis)
        m = np.max(a, axis=ax, keepdims=True) if a.size else np.zeros((), a.dtype)
        m = np.where(np.isfinite(m), m, 0.0).astype(a.dtype)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - m), axis=ax, keepdims=True)) + m
        return _out(out if keepdims else np.squeeze(out, axis=ax))
    m = stop_gradient(max(x, axis=axis, keepdims=True))
    out = add(log(sum(exp(subtract(x, m)), axis=axis, keepdims=True)), m)
    if keepdims:
        return out
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    drop = {_row_axis(x, a, "logsumexp") for a in axes}
    return _reshaped(out, [d for i, d in enumerate(out._row) if i not in drop], "logsumexp")


def _float_reduction(name, numpy_fn):
    def op(x, axis=None, keepdims=False):
        _eager(name, x, why="it has no engine kernel yet")
        with np.errstate(invalid="ignore", divide="ignore"):
            return _out(numpy_fn(_np_float(x), axis=_axes_tuple(axis), keepdims=keepdims))

    op.__name__ = name
    return op


median = _float_reduction("median", np.median)
nanmean = _float_reduction("nanmean", np.nanmean)
nanvar = _float_reduction("nanvar", np.nanvar)
nanstd = _float_reduction("nanstd", np.nanstd)
nanmedian = _float_reduction("nanmedian", np.nanmedian)


def _nan_reduction(name, numpy_fn):
    def op(x, axis=None, keepdims=False):
        _eager(name, x, why="it has no engine kernel yet")
        with np.errstate(invalid="ignore"):
            return _out(numpy_fn(_np(x), axis=_axes_tuple(axis), keepdims=keepdims))

    op.__name__ = name
    return op


nansum = _nan_reduction("nansum", np.nansum)
nanprod = _nan_reduction("nanprod", np.nanprod)
nanmax = _nan_reduction("nanmax", np.nanmax)
nanmin = _nan_reduction("nanmin", np.nanmin)


def nancumsum(x, axis=None, dtype=None):
    _eager("nancumsum", x, why="it has no engine kernel yet")
    return _out(np.nancumsum(_np(x), axis=axis, dtype=dtype))


def nancumprod(x, axis=None, dtype=None):
    _eager("nancumprod", x, why="it has no engine kernel yet")
    return _out(np.nancumprod(_np(x), axis=axis, dtype=dtype))


def quantile(x, q, axis=None, method="linear", keepdims=False):
    _eager("quantile", x, q)
    return _out(np.quantile(_np_float(x), _np(q), axis=_axes_tuple(axis), method=method,
                            keepdims=keepdims))


def percentile(x, q, axis=None, method="linear", keepdims=False):
    _eager("percentile", x, q)
    return _out(np.percentile(_np_float(x), _np(q), axis=_axes_tuple(axis), method=method,
                              keepdims=keepdims))


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    _eager("nanquantile", x, q)
    return _out(np.nanquantile(_np_float(x), _np(q), axis=_axes_tuple(axis), method=method,
                               keepdims=keepdims))


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    _eager("nanpercentile", x, q)
    return _out(np.nanpercentile(_np_float(x), _np(q), axis=_axes_tuple(axis), method=method,
                                 keepdims=keepdims))


def ptp(x, axis=None, keepdims=False):
    return subtract(max(x, axis=axis, keepdims=keepdims), min(x, axis=axis, keepdims=keepdims))


def count_nonzero(x, axis=None):
    if isinstance(x, GraphTensor):
        return sum(_truth(x), axis=axis)
    _check_weights_alone("count_nonzero", x)
    return _out(np.count_nonzero(_np(x), axis=_axes_tuple(axis)))


def average(x, axis=None, weights=None):
    if weights is None:
        return mean(x, axis=axis)
    if _graph_of(x, weights) is None:
        return _out(np.average(_np_float(x), axis=axis, weights=_np_float(weights)))
    w = _np_float(weights)
    if axis is not None and w.ndim == 1:
        shape = [1] * len(_shape(x))
        shape[int(axis)] = w.shape[0]
        w = w.reshape(shape)
    return divide(sum(multiply(x, w), axis=axis), float(np.sum(w)))


def argmax(x, axis=None, keepdims=False):
    _eager("argmax", x, why="it returns integer indices, which have no gradient; compute "
           "them on arrays or use ops.one_hot / ops.max inside the layer")
    return _out(np.argmax(_np(x), axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    _eager("argmin", x, why="it returns integer indices, which have no gradient")
    return _out(np.argmin(_np(x), axis=axis, keepdims=keepdims))


def nanargmax(x, axis=None, keepdims=False):
    _eager("nanargmax", x, why="it returns integer indices")
    return _out(np.nanargmax(_np(x), axis=axis, keepdims=keepdims))


def nanargmin(x, axis=None, keepdims=False):
    _eager("nanargmin", x, why="it returns integer indices")
    return _out(np.nanargmin(_np(x), axis=axis, keepdims=keepdims))


def argsort(x, axis=-1):
    _eager("argsort", x, why="it returns integer indices that depend on the values")
    return _out(np.argsort(_np(x), axis=axis, kind="stable"))


def sort(x, axis=-1):
    _eager("sort", x)
    return _out(np.sort(_np(x), axis=axis, kind="stable"))


def argpartition(x, kth, axis=-1):
    _eager("argpartition", x)
    return _out(np.argpartition(_np(x), kth, axis=axis))


# ---------------------------------------------------------------------------
# shape and indexing
# ---------------------------------------------------------------------------
def _shape_op(name, numpy_fn):
    """An index-only op: NumPy eagerly, one gather in a graph."""
    def op(x, *args, **kwargs):
        if isinstance(x, GraphTensor):
            return _lowered(x, name, lambda p: numpy_fn(p, *args, **kwargs))
        _check_weights_alone(name, x)
        out = numpy_fn(np.asarray(_np(x)), *args, **kwargs)
        return [_out(o) for o in out] if isinstance(out, list) else _out(out)

    op.__name__ = name
    return op


def _graph_shape(shape):
    """A full shape for _lowered's two stacked rows: the batch entry (None or -1) -> 2."""
    shape = tuple(shape)
    return (2,) + shape[1:] if shape and shape[0] in (None, -1) else shape


def flip(x, axis=None):
    if isinstance(x, GraphTensor):
        if axis is None:
            axis = tuple(range(1, x.ndim))
        return _lowered(x, "flip", lambda p: np.flip(p, axis))
    return _out(np.flip(_np(x), _axes_tuple(axis)))


def fliplr(x):
    return flip(x, 1)


def flipud(x):
    return flip(x, 0)


roll = _shape_op("roll", lambda p, shift, axis=None: np.roll(p, shift, axis))
moveaxis = _shape_op("moveaxis", np.moveaxis)
swapaxes = _shape_op("swapaxes", np.swapaxes)
rot90 = _shape_op("rot90", lambda p, k=1, axes=(0, 1): np.rot90(p, k, axes))
tile = _shape_op("tile", np.tile)
ravel = _shape_op("ravel", np.ravel)
diagonal = _shape_op("diagonal", lambda p, offset=0, axis1=0, axis2=1: np.diagonal(
    p, offset, axis1, axis2))


def repeat(x, repeats, axis=None):
    if isinstance(x, GraphTensor):
        return _lowered(x, "repeat", lambda p: np.repeat(p, _np(repeats), axis))
    return _out(np.repeat(_np(x), _np(repeats), axis))


def broadcast_to(x, shape):
    if isinstance(x, GraphTensor):
        return _lowered(x, "broadcast_to", lambda p: np.broadcast_to(p, _graph_shape(shape)))
    return np.array(np.broadcast_to(_np(x), shape))


def split(x, indices_or_sections, axis=0):
    if isinstance(x, GraphTensor):
        return _lowered(x, "split", lambda p: list(np.split(p, indices_or_sections, axis)))
    return [_out(p) for p in np.split(_np(x), indices_or_sections, axis)]


def array_split(x, indices_or_sections, axis=0):
    if isinstance(x, GraphTensor):
        return _lowered(x, "array_split",
                        lambda p: list(np.array_split(p, indices_or_sections, axis)))
    return [_out(p) for p in np.array_split(_np(x), indices_or_sections, axis)]


def hsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=1 if len(_shape(x)) > 1 else 0)


def vsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=2)


def diag(x, k=0):
    _eager("diag", x, why="it acts on the batch axis")
    return _out(np.diag(_np(x), k))


def diagflat(x, k=0):
    _eager("diagflat", x, why="it flattens the batch axis")
    return _out(np.diagflat(_np(x), k))


def trace(x, offset=0, axis1=0, axis2=1):
    if isinstance(x, GraphTensor):
        return sum(diagonal(x, offset, axis1, axis2), axis=-1)
    return _out(np.trace(_np(x), offset, axis1, axis2))


def take_along_axis(x, indices, axis=None):
    if isinstance(indices, GraphTensor):
        raise _graph_only_error("take_along_axis", "its indices come from the layer's values")
    idx = np.asarray(_np(indices))
    if isinstance(x, GraphTensor):
        if axis is None:
            raise ValueError("ember.ops.take_along_axis: axis=None flattens the batch axis; "
                             "inside a layer give an axis")
        if idx.ndim == x.ndim - 1:
            idx = idx[None]
        return _lowered(x, "take_along_axis", lambda p: np.take_along_axis(
            p, np.broadcast_to(idx, (2,) + idx.shape[1:]) if idx.shape[0] == 1 else idx, axis))
    _check_weights_alone("take_along_axis", x)
    a = np.asarray(_np(x))
    if axis is not None:
        # Keras broadcasts x and indices against each other outside the axis.
        shape = list(np.broadcast_shapes(
            tuple(np.delete(a.shape, axis)), tuple(np.delete(idx.shape, axis))))
        ax = axis % a.ndim
        a = np.broadcast_to(a, tuple(shape[:ax]) + (a.shape[ax],) + tuple(shape[ax:]))
        idx = np.broadcast_to(idx, tuple(shape[:ax]) + (idx.shape[ax],) + tuple(shape[ax:]))
    return _out(np.take_along_axis(a, np.where(idx < 0, idx + (a.shape[axis] if axis is not None
                                                              else a.size), idx), axis))


def stack(x, axis=0):
    xs = list(x)
    if _graph_of(*xs) is None:
        _check_weights_alone("stack", *xs)
        return _out(np.stack([np.asarray(_np(v)) for v in xs], axis=axis))
    return concatenate([expand_dims(v, axis) for v in xs], axis=axis)


def unstack(x, num=None, axis=0):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("unstack", x)
        a = np.asarray(_np(x))
        return [_out(v) for v in np.moveaxis(a, axis, 0)]
    a = _row_axis(x, axis, "unstack")
    pieces = split(x, x._row[a], axis=a + 1)
    return [_reshaped(p, [d for i, d in enumerate(p._row) if i != a], "unstack") for p in pieces]


def hstack(xs):
    xs = list(xs)
    return concatenate(xs, axis=1 if len(_shape(xs[0])) > 1 else 0)


def vstack(xs):
    xs = list(xs)
    if _graph_of(*xs) is None:
        return _out(np.vstack([np.asarray(_np(v)) for v in xs]))
    return concatenate(xs, axis=0)


def dstack(xs):
    xs = list(xs)
    if _graph_of(*xs) is None:
        return _out(np.dstack([np.asarray(_np(v)) for v in xs]))
    return concatenate([v if v.ndim >= 3 else expand_dims(v, -1) for v in xs], axis=2)


def append(x1, x2, axis=None):
    if _graph_of(x1, x2) is None:
        return _out(np.append(_np(x1), _np(x2), axis=axis))
    if axis is None:
        raise ValueError("ember.ops.append: axis=None flattens the batch axis; inside a layer "
                         "give an axis")
    return concatenate([x1, x2], axis=axis)


def _triangle(name, numpy_fn):
    def op(x, k=0):
        if isinstance(x, GraphTensor):
            if x.ndim < 3:
                raise ValueError(f"ember.ops.{name}: inside a layer the value needs two axes "
                                 f"besides the batch axis, got {x.shape}")
            return multiply(x, _row_mask(x, lambda o: numpy_fn(o, k), name))
        _check_weights_alone(name, x)
        return _out(numpy_fn(_np(x), k))

    op.__name__ = name
    return op


tril = _triangle("tril", np.tril)
triu = _triangle("triu", np.triu)


def pad(x, pad_width, mode="constant", constant_values=None):
    if mode not in ("constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
                    "reflect", "symmetric", "wrap", "empty"):
        raise ValueError(f"ember.ops.pad: unknown mode {mode!r}")
    if constant_values is not None and mode != "constant":
        raise ValueError("ember.ops.pad: constant_values applies only to mode='constant'")
    if not isinstance(x, GraphTensor):
        _check_weights_alone("pad", x)
        kw = {"constant_values": constant_values} if mode == "constant" and constant_values \
            is not None else {}
        return _out(np.pad(_np(x), pad_width, mode=mode, **kw))
    if mode in ("reflect", "symmetric", "edge", "wrap"):
        return _lowered(x, "pad", lambda p: np.pad(p, pad_width, mode=mode))
    if mode != "constant":
        raise _graph_only_error("pad", f"mode={mode!r} computes new values")
    n = math.prod(x._row)
    # Padded positions read one extra element appended to each row: x's first times 0
    # (a zero that the engine differentiates), to which constant_values is then added.
    flat = reshape(x, (-1, n))
    padded = concatenate([flat, multiply(flat[:, :1], 0.0)], axis=-1)
    both = np.pad(np.stack([_positions(x), _positions(x)]), pad_width, constant_values=-1)
    if both.shape[0] != 2:
        raise ValueError(f"ember.ops.pad: inside a layer pad_width must not pad the batch "
                         f"axis of {x.shape}, got {pad_width}")
    index = np.where(both[0] < 0, n, both[0])
    out = _gather(padded, index.shape, index, "pad")
    if constant_values:
        return add(out, (both[:1] < 0).astype(_F32) * float(constant_values))
    return out


def slice(inputs, start_indices, shape):  # noqa: A001
    if builtins.any(isinstance(v, GraphTensor) for v in (start_indices, shape)):
        raise _graph_only_error("slice", "its start and shape come from the layer's values")
    starts = [int(s) for s in np.asarray(_np(start_indices)).ravel()]
    sizes = list(shape)

    def cut(a, batch=None):
        key = []
        for i, (s, n) in enumerate(zip(starts, sizes)):
            n = a.shape[i] - s if n is None or n == -1 or (i == 0 and batch) else n
            key.append(builtins.slice(s, s + n))
        return a[tuple(key)]

    if isinstance(inputs, GraphTensor):
        if starts[0] != 0:
            raise ValueError("ember.ops.slice: inside a layer the slice must start at 0 on the "
                             "batch axis")
        return _lowered(inputs, "slice", lambda p: cut(p, batch=True))
    _check_weights_alone("slice", inputs)
    return _out(cut(np.asarray(_np(inputs))))


def get_item(x, key):
    return x[key]


def slice_update(inputs, start_indices, updates):
    _eager("slice_update", inputs, start_indices, updates, why="it writes into a value in place")
    out = np.array(_np(inputs), copy=True)
    starts = [int(s) for s in np.asarray(_np(start_indices)).ravel()]
    upd = np.asarray(_np(updates))
    out[tuple(builtins.slice(s, s + n) for s, n in zip(starts, upd.shape))] = upd
    return out


def scatter(indices, values, shape):
    _eager("scatter", indices, values, why="it writes at indices that are values")
    idx = np.asarray(_np(indices))
    vals = np.asarray(_np(values))
    out = np.zeros(shape, vals.dtype)
    np.add.at(out, tuple(np.moveaxis(idx, -1, 0)), vals)
    return out


def scatter_update(inputs, indices, updates):
    _eager("scatter_update", inputs, indices, updates,
           why="it writes at indices that are values")
    out = np.array(_np(inputs), copy=True)
    idx = np.asarray(_np(indices))
    out[tuple(np.moveaxis(idx, -1, 0))] = np.asarray(_np(updates))
    return out


def _eager_index_op(name, numpy_fn):
    def op(*args, **kwargs):
        _eager(name, *args)
        out = numpy_fn(*[_np(a) if not isinstance(a, (list, tuple)) else a for a in args],
                       **kwargs)
        return tuple(_out(o) for o in out) if isinstance(out, tuple) else _out(out)

    op.__name__ = name
    return op


nonzero = _eager_index_op("nonzero", np.nonzero)
searchsorted = _eager_index_op(
    "searchsorted", lambda a, v, side="left": np.searchsorted(a, v, side=side))
digitize = _eager_index_op("digitize", lambda x, bins: np.digitize(x, bins))
unravel_index = _eager_index_op("unravel_index", np.unravel_index)


def bincount(x, weights=None, minlength=0, sparse=False):
    _eager("bincount", x, weights)
    a = np.asarray(_np(x))
    w = None if weights is None else np.asarray(_np(weights))
    if a.ndim == 2:
        n = builtins.max(minlength, int(a.max(initial=-1)) + 1)
        return np.stack([_out(np.bincount(r, None if w is None else wr, n))
                         for r, wr in zip(a, w if w is not None else a)])
    return _out(np.bincount(a, w, minlength))


def histogram(x, bins=10, range=None):  # noqa: A002
    _eager("histogram", x)
    counts, edges = np.histogram(_np_float(x), bins=bins, range=range)
    return counts.astype(_F32), _out(edges)  # float counts, as Keras's


def unique(x, sorted=True, return_inverse=False, return_counts=False, axis=None,  # noqa: A002
           size=None, fill_value=None):
    _eager("unique", x)
    out = np.unique(_np(x), return_inverse=return_inverse, return_counts=return_counts,
                    axis=axis)
    return tuple(_out(o) for o in out) if isinstance(out, tuple) else _out(out)


def isin(x1, x2, assume_unique=False, invert=False):
    _eager("isin", x1, x2)
    return np.isin(_np(x1), _np(x2), assume_unique=assume_unique, invert=invert)


def diff(a, n=1, axis=-1):
    if not isinstance(a, GraphTensor):
        _check_weights_alone("diff", a)
        return _out(np.diff(_np(a), n=n, axis=axis))
    for _ in range(n):
        length = a.shape[axis]
        a = subtract(take(a, np.arange(1, length), axis=axis),
                     take(a, np.arange(0, length - 1), axis=axis))
    return a


def trapezoid(y, x=None, dx=1.0, axis=-1):
    _eager("trapezoid", y, x)
    trap = getattr(np, "trapezoid", None) or np.trapz
    return _out(trap(_np_float(y), None if x is None else _np_float(x), dx, axis))


def correlate(x1, x2, mode="valid"):
    _eager("correlate", x1, x2)
    return _out(np.correlate(_np_float(x1), _np_float(x2), mode))


def ndim(x):
    return len(_shape(x))


def size(x):
    if isinstance(x, GraphTensor):
        raise ValueError("ember.ops.size: a graph value's size depends on the batch size, "
                         "which is not known while the model is built")
    return int(np.size(_np(x)))


def is_tensor(x):
    return isinstance(x, (np.ndarray, GraphTensor))


def dtype(x):
    if isinstance(x, GraphTensor):
        return "float32"
    return str(np.asarray(_np(x)).dtype)


def array(x, dtype=None):
    _eager("array", x, why="it makes a constant")
    return np.array(_np(x), dtype=dtype)


# ---------------------------------------------------------------------------
# bitwise (integers only; a graph's values are float32)
# ---------------------------------------------------------------------------
def _bitwise(name, numpy_fn):
    def op(*args):
        _eager(name, *args, why="it acts on integers, and a graph's values are float32")
        return _out(numpy_fn(*[_np(a) for a in args]))

    op.__name__ = name
    return op


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)
bitwise_not = _bitwise("bitwise_not", np.invert)
bitwise_invert = _bitwise("bitwise_invert", np.invert)
bitwise_left_shift = _bitwise("bitwise_left_shift", np.left_shift)
bitwise_right_shift = _bitwise("bitwise_right_shift", np.right_shift)
left_shift = _bitwise("left_shift", np.left_shift)
right_shift = _bitwise("right_shift", np.right_shift)
gcd = _bitwise("gcd", np.gcd)
lcm = _bitwise("lcm", np.lcm)


# ---------------------------------------------------------------------------
# products
# ---------------------------------------------------------------------------
def _eager_product(name, numpy_fn):
    def op(x1, x2, *args, **kwargs):
        _eager(name, x1, x2, why="use ops.einsum or ops.matmul inside a layer")
        return _out(numpy_fn(_np(x1), _np(x2), *args, **kwargs))

    op.__name__ = name
    return op


outer = _eager_product("outer", np.outer)
inner = _eager_product("inner", np.inner)
vdot = _eager_product("vdot", np.vdot)
kron = _eager_product("kron", np.kron)
cross = _eager_product("cross", lambda a, b, axisa=-1, axisb=-1, axisc=-1, axis=None: np.cross(
    a, b, axisa, axisb, axisc, axis))


def tensordot(x1, x2, axes=2):
    if _graph_of(x1, x2) is None:
        _check_weights_alone("tensordot", x1, x2)
        return _out(np.tensordot(_np(x1), _np(x2), axes))
    r1, r2 = len(_shape(x1)), len(_shape(x2))
    if isinstance(axes, int):
        a1, a2 = list(range(r1 - axes, r1)), list(range(axes))
    else:
        a1, a2 = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                  [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    s1 = [next(letters) for _ in range(r1)]
    s2 = [next(letters) for _ in range(r2)]
    for i, j in zip(a1, a2):
        s2[j % r2] = s1[i % r1]
    contracted = {s1[i % r1] for i in a1}
    out = [c for c in s1 if c not in contracted] + [c for c in s2 if c not in contracted]
    return einsum(f"{''.join(s1)},{''.join(s2)}->{''.join(out)}", x1, x2)


def einsum(subscripts, *operands):
    if _graph_of(*operands) is None:
        _check_weights_alone("einsum", *operands)
        arrays = [np.asarray(_np(o)) for o in operands]
        return _out(np.einsum(subscripts, *arrays))
    return einsum_graph(subscripts, operands)


# ---------------------------------------------------------------------------
# keras.ops.math: segment reductions, sequences, FFTs (complex values as (real, imag) pairs)
# ---------------------------------------------------------------------------
def _segment(name, ufunc, identity):
    def op(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
        _eager(name, data, segment_ids, why="its segments are values")
        if num_segments is None:
            raise ValueError(f"ember.ops.{name}: give num_segments (as Keras's jax backend "
                             "requires)")
        d = np.asarray(_np(data))
        ids = np.asarray(_np(segment_ids)).astype(np.int64)
        info = np.finfo(d.dtype) if np.issubdtype(d.dtype, np.floating) else np.iinfo(d.dtype)
        fill = {"sum": 0, "prod": 1, "max": -np.inf if identity == "max" and
                np.issubdtype(d.dtype, np.floating) else info.min,
                "min": np.inf if np.issubdtype(d.dtype, np.floating) else info.max}[identity]
        out = np.full((num_segments,) + d.shape[1:], fill, d.dtype)
        keep = (ids >= 0) & (ids < num_segments)  # out-of-range ids are dropped, as in jax
        ufunc.at(out, ids[keep], d[keep])
        return out

    op.__name__ = name
    return op


segment_sum = _segment("segment_sum", np.add, "sum")
segment_prod = _segment("segment_prod", np.multiply, "prod")
segment_max = _segment("segment_max", np.maximum, "max")
segment_min = _segment("segment_min", np.minimum, "min")


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of the last axis: (..., length) -> (..., frames, sequence_length)."""
    def frames(a):
        n = (a.shape[-1] - sequence_length) // sequence_stride + 1
        idx = np.arange(n)[:, None] * sequence_stride + np.arange(sequence_length)
        return a[..., idx]

    if isinstance(x, GraphTensor):
        return _lowered(x, "extract_sequences", frames)
    _check_weights_alone("extract_sequences", x)
    return _out(frames(np.asarray(_np(x))))


def _complex_pair(op, x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"ember.ops.{op}: x must be a (real, imaginary) pair of tensors")
    _eager(op, *x, why="complex values have no engine kernels")
    real, imag = (np.asarray(_np(v)) for v in x)
    if real.shape != imag.shape:
        raise ValueError(f"ember.ops.{op}: the real and imaginary parts have shapes "
                         f"{real.shape} and {imag.shape}")
    if not (np.issubdtype(real.dtype, np.floating) and np.issubdtype(imag.dtype, np.floating)):
        raise ValueError(f"ember.ops.{op}: the real and imaginary parts must be floats")
    return real.astype(_F32) + 1j * imag.astype(_F32)


def _pair(c):
    c = np.asarray(c).astype(np.complex64)
    return np.real(c).copy(), np.imag(c).copy()


def fft(x):
    return _pair(np.fft.fft(_complex_pair("fft", x)))


def fft2(x):
    return _pair(np.fft.fft2(_complex_pair("fft2", x)))


def ifft2(x):
    return _pair(np.fft.ifft2(_complex_pair("ifft2", x)))


def rfft(x, fft_length=None):
    _eager("rfft", x, why="complex values have no engine kernels")
    return _pair(np.fft.rfft(_np_float(x), n=fft_length, axis=-1))


def irfft(x, fft_length=None):
    return np.fft.irfft(_complex_pair("irfft", x), n=fft_length, axis=-1).astype(_F32)


def polar(abs_, angle):
    _eager("polar", abs_, angle, why="complex values have no engine kernels")
    r, t = _np_float(abs_), _np_float(angle)
    return (r * np.cos(t) + 1j * (r * np.sin(t))).astype(np.complex64)


def view_as_complex(x):
    _eager("view_as_complex", x, why="complex values have no engine kernels")
    a = np.asarray(_np(x))
    if a.shape[-1:] != (2,):
        raise ValueError(f"ember.ops.view_as_complex: the last axis must have length 2, got "
                         f"{a.shape}")
    return (a[..., 0] + 1j * a[..., 1]).astype(np.complex64)


def view_as_real(x):
    _eager("view_as_real", x, why="complex values have no engine kernels")
    c = np.asarray(_np(x))
    return np.stack([np.real(c), np.imag(c)], axis=-1).astype(_F32)


def view(x, dtype=None):
    _eager("view", x, why="it reinterprets bytes")
    a = np.asarray(_np(x))
    return a if dtype is None else a.view(np.dtype(dtype))


def corrcoef(x):
    _eager("corrcoef", x, why="it reduces over the batch axis")
    return _out(np.corrcoef(_np_float(x)))


def cdist(x, y):
    """Euclidean distances between the rows of x (..., m, d) and y (..., n, d)."""
    if len(_shape(x)) < 2 or len(_shape(y)) < 2:
        raise ValueError("ember.ops.cdist: inputs must have rank >= 2")
    if _shape(x)[-1] != _shape(y)[-1]:
        raise ValueError(f"ember.ops.cdist: last axes differ: {_shape(x)} and {_shape(y)}")
    if _graph_of(x, y) is None:
        a, b = _np_float(x), _np_float(y)
        diff_ = a[..., :, None, :] - b[..., None, :, :]
        return _out(np.sqrt(np.sum(diff_ * diff_, axis=-1)))
    yb = expand_dims(y, -3) if isinstance(y, GraphTensor) else np.expand_dims(_np_float(y), -3)
    return sqrt(sum(square(subtract(expand_dims(x, -2), yb)), axis=-1))


def vectorize(pyfunc, *, excluded=None, signature=None):
    """NumPy's vectorize: pyfunc applied over arrays eagerly."""
    vectorized = np.vectorize(pyfunc, excluded=excluded or set(), signature=signature)

    def wrapped(*args, **kwargs):
        _eager("vectorize", *args, why="it calls a Python function per element")
        return _out(vectorized(*args, **kwargs))

    return wrapped


# ---------------------------------------------------------------------------
# keras.ops.rearrange (einops's pattern language: split, transpose and merge axes)
# ---------------------------------------------------------------------------
def _rearranged(a, pattern, axes_lengths):
    import re

    lhs, rhs = re.split(r"\s*->\s*", pattern)
    in_axes = re.findall(r"\w+|\(.*?\)", lhs)
    out_groups = [re.findall(r"\w+", g) for g in re.findall(r"\w+|\(.*?\)", rhs)]
    if len(in_axes) != a.ndim:
        raise ValueError(f"ember.ops.rearrange: {lhs!r} names {len(in_axes)} axes for a "
                         f"rank-{a.ndim} value")
    lengths, names, sizes = dict(axes_lengths), [], []
    for axis, dim in zip(in_axes, a.shape):
        inner = re.findall(r"\w+", axis)
        if axis.startswith("("):
            unknown = [n for n in inner if n not in lengths]
            if len(unknown) > 1:
                raise ValueError(f"ember.ops.rearrange: give the lengths of all but one of "
                                 f"{axis}")
            if unknown:
                lengths[unknown[0]] = dim // math.prod(lengths[n] for n in inner
                                                        if n != unknown[0])
        else:
            lengths[axis] = dim
        names += inner
        sizes += [lengths[n] for n in inner]
    flat_out = [n for g in out_groups for n in g]
    if sorted(flat_out) != sorted(names):
        raise ValueError(f"ember.ops.rearrange: {pattern!r} must name the same axes on both "
                         "sides")
    a = a.reshape(sizes).transpose([names.index(n) for n in flat_out])
    return a.reshape([math.prod(lengths[n] for n in g) for g in out_groups])


def rearrange(tensor, pattern, **axes_lengths):
    if isinstance(tensor, GraphTensor):
        return _lowered(tensor, "rearrange", lambda p: _rearranged(p, pattern, axes_lengths))
    _check_weights_alone("rearrange", tensor)
    return _out(_rearranged(np.asarray(_np(tensor)), pattern, axes_lengths))


def _stft_window(window, sequence_length, fft_length, op):
    if window is None:
        return np.ones(fft_length)  # Keras's: the whole frame, not padded
    if isinstance(window, str):
        n = np.arange(sequence_length)
        # scipy.signal.get_window's periodic ("fftbins") windows, as Keras uses them.
        if window == "hann":
            win = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / sequence_length)
        elif window == "hamming":
            win = 0.54 - 0.46 * np.cos(2.0 * np.pi * n / sequence_length)
        else:
            raise ValueError(f"ember.ops.{op}: a window given by name must be 'hann' or "
                             f"'hamming', got {window!r}")
    else:
        win = np.asarray(_np_float(window), dtype=np.float64)
        if win.shape != (sequence_length,):
            raise ValueError(f"ember.ops.{op}: the window's shape must be ({sequence_length},), "
                             f"got {win.shape}")
    left = (fft_length - sequence_length) // 2
    return np.pad(win, (left, fft_length - sequence_length - left))


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform of the last axis: (real, imag), each (..., frames,
    fft_length // 2 + 1), unscaled, as Keras's jax backend."""
    _eager("stft", x, why="complex values have no engine kernels")
    a = np.asarray(_np(x))
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"ember.ops.stft: x must be float32 or float64, got {a.dtype}")
    if fft_length < sequence_length:
        raise ValueError(f"ember.ops.stft: fft_length ({fft_length}) must be at least "
                         f"sequence_length ({sequence_length})")
    win = _stft_window(window, sequence_length, fft_length, "stft")
    if center:
        a = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(fft_length // 2, fft_length // 2)],
                   mode="reflect")
    n = (a.shape[-1] - fft_length) // sequence_stride + 1
    idx = np.arange(n)[:, None] * sequence_stride + np.arange(fft_length)
    spectrum = np.fft.rfft(a[..., idx].astype(np.float64) * win, n=fft_length, axis=-1)
    return _pair(spectrum)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
          center=True):
    """The inverse of stft: overlap-added frames divided by the overlapping squared window."""
    spectrum = _complex_pair("istft", x)
    if spectrum.ndim < 2:
        raise ValueError(f"ember.ops.istft: x must have at least 2 axes, got {spectrum.shape}")
    win = _stft_window(window, sequence_length, fft_length, "istft")
    frames = np.fft.irfft(spectrum.astype(np.complex128), n=fft_length, axis=-1)
    count = frames.shape[-2]
    total = fft_length + sequence_stride * (count - 1)
    out = np.zeros(frames.shape[:-2] + (total,))
    norm = np.zeros(total)
    for i in range(count):
        at = builtins.slice(i * sequence_stride, i * sequence_stride + fft_length)
        out[..., at] += frames[..., i, :] * win
        norm[at] += win * win
    out = np.where(norm > 1e-10, out / np.where(norm > 1e-10, norm, 1.0), out)
    if window is None:
        out = out * win.sum() / sequence_stride
    start = fft_length // 2 if center else 0
    if length is not None:
        end = start + length
    elif center:
        end = -(fft_length // 2)
    else:
        end = total
    return out[..., start:end].astype(_F32)
