"""`ember.ops`: Keras 3's operations, for custom layers, `Lambda` and activations.

They work in two worlds, like `keras.ops`:

* On arrays (NumPy arrays, lists, numbers, Variables) they compute at once
  with NumPy and return NumPy arrays, in the dtypes Keras (jax) gives: 64-bit
  inputs become 32-bit, integer inputs stay integers where Keras keeps them.
* On the values a layer's `call()` receives while ember builds its engine graph
  (a `GraphTensor`: shape `(None, ...)`, the batch axis first) they record ops
  into that graph. Forward and backward then run in C++ with the rest of the
  model, so a custom layer needs no gradient code: the engine differentiates
  every op as jax does.

Inside a graph, weights (`self.add_weight(...)`) and constants are operands
that every sample reads, broadcast as NumPy broadcasts; the batch axis itself
cannot be reduced, transposed, indexed or concatenated along.
"""

import contextlib
import math

import numpy as np

from ember import _core
from ember import activations as _activations
from ember.variables import Variable

_F32 = np.float32


class GraphTensor:
    """A value inside an engine graph being built: one row per sample."""

    __array_priority__ = 1000  # NumPy defers to our reflected operators

    def __init__(self, graph, node):
        self._graph = graph
        self._node = node
        self._row = tuple(int(d) for d in graph.row_shape(node))

    @property
    def shape(self):
        return (None,) + self._row

    @property
    def ndim(self):
        return 1 + len(self._row)

    @property
    def dtype(self):
        return "float32"

    def __repr__(self):
        return f"<GraphTensor shape={self.shape}, dtype=float32>"

    def __bool__(self):
        raise TypeError("A GraphTensor has no truth value: its values exist only when the model "
                        "runs. Use ember.ops (maximum, where, ...) instead of Python `if`.")

    def __len__(self):
        raise TypeError("len() of a GraphTensor is unknown: its first axis is the batch.")

    def __array__(self, dtype=None, copy=None):
        raise TypeError("A GraphTensor cannot become a NumPy array: its values exist only when "
                        "the model runs. Use ember.ops on it instead of NumPy.")

    __add__ = lambda self, o: add(self, o)  # noqa: E731
    __radd__ = lambda self, o: add(o, self)  # noqa: E731
    __sub__ = lambda self, o: subtract(self, o)  # noqa: E731
    __rsub__ = lambda self, o: subtract(o, self)  # noqa: E731
    __mul__ = lambda self, o: multiply(self, o)  # noqa: E731
    __rmul__ = lambda self, o: multiply(o, self)  # noqa: E731
    __truediv__ = lambda self, o: divide(self, o)  # noqa: E731
    __rtruediv__ = lambda self, o: divide(o, self)  # noqa: E731
    __pow__ = lambda self, o: power(self, o)  # noqa: E731
    __rpow__ = lambda self, o: power(o, self)  # noqa: E731
    __matmul__ = lambda self, o: matmul(self, o)  # noqa: E731
    __rmatmul__ = lambda self, o: matmul(o, self)  # noqa: E731
    __neg__ = lambda self: negative(self)  # noqa: E731
    __abs__ = lambda self: absolute(self)  # noqa: E731

    # Comparisons and logic give 1.0 / 0.0 (ember._ops_numpy, imported when first used). As
    # for Keras's tensors, == and != compare elementwise; hashing stays by identity.
    __hash__ = object.__hash__

    def __eq__(self, o):
        return _numpy_op("equal")(self, o)

    def __ne__(self, o):
        return _numpy_op("not_equal")(self, o)

    def __gt__(self, o):
        return _numpy_op("greater")(self, o)

    def __ge__(self, o):
        return _numpy_op("greater_equal")(self, o)

    def __lt__(self, o):
        return _numpy_op("less")(self, o)

    def __le__(self, o):
        return _numpy_op("less_equal")(self, o)

    def __floordiv__(self, o):
        return _numpy_op("floor_divide")(self, o)

    def __rfloordiv__(self, o):
        return _numpy_op("floor_divide")(o, self)

    def __mod__(self, o):
        return _numpy_op("mod")(self, o)

    def __rmod__(self, o):
        return _numpy_op("mod")(o, self)

    def __and__(self, o):
        return _numpy_op("logical_and")(self, o)

    __rand__ = __and__

    def __or__(self, o):
        return _numpy_op("logical_or")(self, o)

    __ror__ = __or__

    def __xor__(self, o):
        return _numpy_op("logical_xor")(self, o)

    __rxor__ = __xor__

    def __invert__(self):
        return _numpy_op("logical_not")(self)

    def __getitem__(self, key):
        return _getitem(self, key)


# ---------------------------------------------------------------------------
# plumbing
# ---------------------------------------------------------------------------
def _numpy_op(name):
    from ember import _ops_numpy  # it builds on this module

    return getattr(_ops_numpy, name)


_names = [0]


def _name(op):
    _names[0] += 1
    return f"ops.{op}_{_names[0]}"


_tracing = [0]


@contextlib.contextmanager
def tracing():
    """Marks that a layer's call() is being recorded into a graph (ember.layers uses it)."""
    _tracing[0] += 1
    try:
        yield
    finally:
        _tracing[0] -= 1


_weight_rows = [0]


@contextlib.contextmanager
def recording_a_weight():
    """Marks that a weight regularizer is being recorded: its graph's one row is the
    whole weight, so a reduction with axis=None reduces every axis of that row."""
    _weight_rows[0] += 1
    try:
        yield
    finally:
        _weight_rows[0] -= 1


def record(graph, fn, args, what):
    """Runs fn(*args) on graph values, recording its ops into `graph`; returns the
    node of what it returns (a list of nodes for a list or tuple). Anything that is
    not a value of this graph raises a TypeError that starts with `what`."""
    with tracing():
        out = fn(*args)
    multi = isinstance(out, (list, tuple))
    nodes = []
    for value in (out if multi else [out]):
        if not isinstance(value, GraphTensor) or value._graph is not graph:
            raise TypeError(f"{what} must return values computed with ember.ops from its "
                            f"inputs, got {type(value).__name__}")
        nodes.append(value._node)
    return nodes if multi else nodes[0]


def _graph_of(*values):
    graphs = {id(v._graph): v._graph for v in values if isinstance(v, GraphTensor)}
    if len(graphs) > 1:
        raise ValueError("ember.ops: these values belong to different models' graphs")
    return next(iter(graphs.values()), None)


def _wrap(graph, node):
    return GraphTensor(graph, node)


def _array(x):
    if isinstance(x, GraphTensor):
        raise TypeError("internal: a GraphTensor reached NumPy")
    return np.asarray(x, dtype=_F32)


# jax (without x64), and so Keras, holds 64-bit values in 32 bits.
_CANONICAL = {np.dtype(np.float64): np.dtype(np.float32), np.dtype(np.int64): np.dtype(np.int32),
              np.dtype(np.uint64): np.dtype(np.uint32),
              np.dtype(np.complex128): np.dtype(np.complex64)}


def _canonical(a):
    a = np.asarray(a)
    to = _CANONICAL.get(a.dtype)
    return a if to is None else a.astype(to)


def _np(x):
    """An eager operand in the dtype Keras would hold it in. Python numbers stay Python
    numbers: NumPy then promotes them weakly (an int array plus 1 stays int), as jax does."""
    if isinstance(x, GraphTensor):
        raise TypeError("internal: a GraphTensor reached NumPy")
    if isinstance(x, (bool, int, float, complex)):
        return x
    return _canonical(np.asarray(x))


def _np_float(x):
    """An eager operand of an op that computes in floating point: integers and bools
    become float32, as Keras's ops on them return float32."""
    a = np.asarray(_np(x))
    return a if np.issubdtype(a.dtype, np.inexact) else a.astype(_F32)


def _out(value):
    """An eager result, 64-bit NumPy dtypes narrowed to Keras's 32-bit ones."""
    return _canonical(value)


def _check_weights_alone(op, *values):
    if _tracing[0] and any(isinstance(v, Variable) for v in values):
        raise NotImplementedError(
            f"ember.ops.{op}: inside a layer's call(), ops on weights alone (no value computed "
            "from the layer's inputs) would not be differentiated by the engine; combine the "
            "weight with the inputs directly (e.g. ops.matmul(x, self.w) + self.b).")


def _operand(x):
    """(graph input node or None, core Variable or None, full shape)."""
    if isinstance(x, GraphTensor):
        return x._node, None, x.shape
    if isinstance(x, Variable):
        return None, x._core, tuple(x.shape)
    value = np.ascontiguousarray(_array(x))
    return None, _core.Variable("constant", value, False), value.shape


def _normalize_axis(axis, ndim, op):
    a = int(axis)
    if not -ndim <= a < ndim:
        raise ValueError(f"ember.ops.{op}: axis {axis} is out of range for rank {ndim}")
    a %= ndim
    if a == 0:
        raise ValueError(f"ember.ops.{op}: axis 0 is the batch axis, which ops inside a "
                         "layer cannot act along")
    return a


# ---------------------------------------------------------------------------
# elementwise binary ops
# ---------------------------------------------------------------------------
def _binary(kind, x, y, numpy_fn):
    graph = _graph_of(x, y)
    if graph is None:
        _check_weights_alone(kind, x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _out(numpy_fn(_np(x), _np(y)))
    # The engine broadcasts from the operands' shapes (strides, not index maps).
    (a_node, a_var, _), (b_node, b_var, _) = _operand(x), _operand(y)
    inputs = [n for n in (a_node, b_node) if n is not None]
    try:
        node = _core.add_binary(graph, kind, inputs, a_var, b_var, _name(kind))
    except ValueError as e:
        # The engine's message names the graph node ("Layer 'ops.add_3' (Binary): add: ..."):
        # name the ember.ops function instead.
        detail = str(e).partition("(Binary): ")[2]
        if not detail.startswith(f"{kind}: "):
            raise
        raise ValueError(f"ember.ops.{detail}") from None
    return _wrap(graph, node)


def add(x1, x2):
    return _binary("add", x1, x2, np.add)


def subtract(x1, x2):
    return _binary("subtract", x1, x2, np.subtract)


def multiply(x1, x2):
    return _binary("multiply", x1, x2, np.multiply)


def divide(x1, x2):
    return _binary("divide", x1, x2, lambda a, b: np.divide(a, b, dtype=_true_divide_dtype(a, b)))


def _true_divide_dtype(a, b):
    # Keras divides integers in float32 (NumPy would in float64).
    dt = np.result_type(a, b)
    return dt if np.issubdtype(dt, np.inexact) else _F32


true_divide = divide


def maximum(x1, x2):
    return _binary("maximum", x1, x2, np.maximum)


def minimum(x1, x2):
    return _binary("minimum", x1, x2, np.minimum)


def power(x1, x2):
    return _binary("power", x1, x2, np.power)


def clip(x, x_min, x_max):
    """min(max(x, x_min), x_max), as jax's clip computes (and differentiates) it."""
    return minimum(maximum(x, x_min), x_max)


# ---------------------------------------------------------------------------
# elementwise unary ops and activations
# ---------------------------------------------------------------------------
def _unary(kind, x, numpy_fn, keeps_int=False):
    """keeps_int: integer inputs give integers (abs, square, ...), as in Keras; otherwise
    they compute in float32."""
    if isinstance(x, GraphTensor):
        return _wrap(x._graph, _core.add_unary(x._graph, kind, x._node, _name(kind)))
    _check_weights_alone(kind, x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _out(numpy_fn(np.asarray(_np(x)) if keeps_int else _np_float(x)))


def negative(x):
    return _unary("negative", x, np.negative, keeps_int=True)


def absolute(x):
    return _unary("abs", x, np.abs, keeps_int=True)


abs = absolute  # noqa: A001  (Keras's name)


def square(x):
    return _unary("square", x, np.square, keeps_int=True)


def sqrt(x):
    return _unary("sqrt", x, np.sqrt)


def exp(x):
    return _unary("exp", x, np.exp)


def log(x):
    return _unary("log", x, np.log)


def reciprocal(x):
    return _unary("reciprocal", x, np.reciprocal)


def sign(x):
    return _unary("sign", x, np.sign, keeps_int=True)


def _activation(name, x, row_axis_of=None, **params):
    if isinstance(x, GraphTensor):
        if row_axis_of is not None:
            params["axis"] = _normalize_axis(row_axis_of, x.ndim, name) - 1
        act = _core.Activation(name, **params) if params else name
        return _wrap(x._graph, x._graph.add_activation(x._node, act, _name(name)))
    _check_weights_alone(name, x)
    fn = getattr(_activations, name)
    if row_axis_of is not None:
        params["axis"] = row_axis_of
    return _out(fn(_np_float(x), **params))


def relu(x):
    return _activation("relu", x)


def relu6(x):
    return _activation("relu6", x)


def sigmoid(x):
    return _activation("sigmoid", x)


def hard_sigmoid(x):
    return _activation("hard_sigmoid", x)


def tanh(x):
    return _activation("tanh", x)


def softplus(x):
    return _activation("softplus", x)


def softsign(x):
    return _activation("softsign", x)


def silu(x):
    return _activation("silu", x)


swish = silu


def hard_silu(x):
    return _activation("hard_silu", x)


hard_swish = hard_silu


def gelu(x, approximate=True):
    """Keras's ops.gelu: the tanh approximation by default (the activation's default is exact)."""
    return _activation("gelu", x, approximate=bool(approximate))


def elu(x, alpha=1.0):
    return _activation("elu", x, alpha=float(alpha))


def selu(x):
    return _activation("selu", x)


def leaky_relu(x, negative_slope=0.2):
    return _activation("leaky_relu", x, negative_slope=float(negative_slope))


def mish(x):
    return _activation("mish", x)


def softmax(x, axis=-1):
    return _activation("softmax", x, row_axis_of=axis)


def log_softmax(x, axis=-1):
    return _activation("log_softmax", x, row_axis_of=axis)


# ---------------------------------------------------------------------------
# reductions
# ---------------------------------------------------------------------------
def _reduce(kind, x, axis, keepdims, numpy_fn):
    if not isinstance(x, GraphTensor):
        _check_weights_alone(kind, x)
        if isinstance(axis, list):
            axis = tuple(axis)
        x = np.asarray(_np(x))
        if kind == "mean":
            x = _np_float(x)
        return _out(numpy_fn(x, axis=axis, keepdims=keepdims))
    if axis is None and _weight_rows[0] and x.ndim > 1:
        axis = tuple(range(1, x.ndim))  # a weight's one row: every axis of the weight
    if axis is None:
        raise ValueError(f"ember.ops.{kind}: axis=None would reduce over the batch axis too; "
                         "inside a layer, name the axes to reduce (e.g. axis=-1)")
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    axes = sorted({_normalize_axis(a, x.ndim, kind) - 1 for a in axes})
    node = _core.add_reduce(x._graph, kind, x._node, axes, bool(keepdims), _name(kind))
    return _wrap(x._graph, node)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce("sum", x, axis, keepdims, np.sum)


def mean(x, axis=None, keepdims=False):
    return _reduce("mean", x, axis, keepdims, np.mean)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    if initial is not None:
        return maximum(_reduce("max", x, axis, keepdims, np.max), initial)
    return _reduce("max", x, axis, keepdims, np.max)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    if initial is not None:
        return minimum(_reduce("min", x, axis, keepdims, np.min), initial)
    return _reduce("min", x, axis, keepdims, np.min)


amax, amin = max, min


def var(x, axis=None, keepdims=False):
    """Population variance: mean(square(x - mean(x))), as jax computes it."""
    if not isinstance(x, GraphTensor):
        x = _np_float(x)
    centered = subtract(x, mean(x, axis=axis, keepdims=True))
    return mean(square(centered), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


# ---------------------------------------------------------------------------
# moving elements: reshape, transpose, indexing, concatenate
# ---------------------------------------------------------------------------
def _gather(x, out_row, index, op):
    node = _core.add_gather(x._graph, x._node, list(out_row),
                            np.ascontiguousarray(index, dtype=np.int64).ravel(), _name(op))
    return _wrap(x._graph, node)


def _reshaped(x, row, op):
    """x with each row reshaped to `row` (the same values in the same order): the
    engine's Reshape op, a row-major copy."""
    return _wrap(x._graph, _core.add_reshape(x._graph, x._node, list(row), _name(op)))


def _positions(x):
    return np.arange(math.prod(x._row), dtype=np.int64).reshape(x._row)


def reshape(x, newshape):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("reshape", x)
        return np.reshape(_np(x), newshape)
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    if not newshape or newshape[0] not in (-1, None):
        raise ValueError(f"ember.ops.reshape: the new shape {newshape} must keep the batch axis "
                         "first, as -1 or None")
    row = tuple(-1 if d is None else int(d) for d in newshape[1:])
    try:
        row = np.empty(x._row, np.int8).reshape(row).shape  # resolves -1, checks the size
    except ValueError:
        raise ValueError(f"ember.ops.reshape: cannot reshape {x.shape} to {newshape}") from None
    return _reshaped(x, row, "reshape")


def transpose(x, axes=None):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("transpose", x)
        return np.transpose(_np(x), axes)
    if axes is None or int(axes[0]) % x.ndim != 0:
        raise ValueError(f"ember.ops.transpose: axes {axes} would move the batch axis; inside a "
                         "layer keep it first, e.g. axes=(0, 2, 1)")
    perm = [int(a) % x.ndim - 1 for a in axes[1:]]
    out = np.transpose(_positions(x), perm)
    return _gather(x, out.shape, out, "transpose")


def expand_dims(x, axis):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("expand_dims", x)
        return np.expand_dims(_np(x), axis)
    a = int(axis)
    a = a + x.ndim + 1 if a < 0 else a
    if not 1 <= a <= x.ndim:
        raise ValueError(f"ember.ops.expand_dims: axis {axis} is out of range (or the batch axis)")
    row = list(x._row)
    row.insert(a - 1, 1)
    return _reshaped(x, row, "expand_dims")


def squeeze(x, axis=None):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("squeeze", x)
        return np.squeeze(_np(x), axis)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x._row) if d == 1)
    else:
        axes = tuple(_normalize_axis(a, x.ndim, "squeeze") - 1 for a in
                     (axis if isinstance(axis, (list, tuple)) else (axis,)))
    for a in axes:
        if x._row[a] != 1:
            raise ValueError(f"ember.ops.squeeze: axis {a + 1} of {x.shape} has size "
                             f"{x._row[a]}, not 1")
    return _reshaped(x, [d for i, d in enumerate(x._row) if i not in axes], "squeeze")


def _getitem(x, key):
    key = key if isinstance(key, tuple) else (key,)
    if key and key[0] is Ellipsis:
        row_key = key
    elif key and isinstance(key[0], slice) and key[0] == slice(None):
        row_key = key[1:]
    else:
        raise ValueError(f"ember.ops: indexing {x.shape} with {key!r} would select along the "
                         "batch axis; inside a layer start with `:` or `...` (x[:, 0:3])")
    try:
        out = _positions(x)[row_key]
    except (IndexError, TypeError) as e:
        raise ValueError(f"ember.ops: cannot index {x.shape} with {key!r}: {e}") from None
    out = np.asarray(out)
    return _gather(x, out.shape, out, "getitem")


def take(x, indices, axis=None):
    if not isinstance(x, GraphTensor):
        _check_weights_alone("take", x)
        return _out(np.take(_np(x), np.asarray(indices), axis=axis))
    if axis is None:
        raise ValueError("ember.ops.take: axis=None would flatten the batch axis; give an axis")
    a = _normalize_axis(axis, x.ndim, "take") - 1
    out = np.take(_positions(x), np.asarray(indices, dtype=np.int64), axis=a)
    return _gather(x, out.shape, out, "take")


def concatenate(xs, axis=0):
    xs = list(xs)
    graph = _graph_of(*xs)
    if graph is None:
        _check_weights_alone("concatenate", *xs)
        return _out(np.concatenate([np.asarray(_np(x)) for x in xs], axis=axis))
    if not all(isinstance(x, GraphTensor) for x in xs):
        raise ValueError("ember.ops.concatenate: inside a layer, every operand must come from "
                         "the layer's inputs (broadcast constants first, e.g. x * 0 + c)")
    a = _normalize_axis(axis, xs[0].ndim, "concatenate")
    node = _core.add_concatenate(graph, [x._node for x in xs], a, _name("concatenate"))
    return _wrap(graph, node)


# ---------------------------------------------------------------------------
# matrix products
# ---------------------------------------------------------------------------
def matmul(x1, x2):
    graph = _graph_of(x1, x2)
    if graph is None:
        _check_weights_alone("matmul", x1, x2)
        return _out(np.matmul(_np(x1), _np(x2)))
    if isinstance(x1, GraphTensor) and isinstance(x2, GraphTensor):
        node = _core.add_matmul(graph, [x1._node, x2._node], None, _name("matmul"))
        return _wrap(graph, node)
    if not isinstance(x1, GraphTensor):
        raise ValueError(f"ember.ops.matmul: inside a layer the batched value comes first "
                         f"(x @ w); got shapes {_shape(x1)} @ {x2.shape}")
    _, w, w_shape = _operand(x2)
    if len(w_shape) != 2:
        raise ValueError(f"ember.ops.matmul: the weight must be 2-D (k, n), got {w_shape}")
    if x1.shape[-1] != w_shape[0]:
        raise ValueError(f"ember.ops.matmul: shapes {x1.shape} and {w_shape} do not match")
    return _wrap(graph, _core.add_matmul(graph, [x1._node], w, _name("matmul")))


def dot(x1, x2):
    """NumPy's dot: a scalar operand multiplies; 1-D and 2-D operands are matmul's; else the
    last axis of x1 meets the second-to-last of x2 ((2, 3, 4) . (2, 4, 5) -> (2, 3, 2, 5))."""
    if _graph_of(x1, x2) is None:
        _check_weights_alone("dot", x1, x2)
        return _out(np.dot(_np(x1), _np(x2)))
    if len(_shape(x1)) == 0 or len(_shape(x2)) == 0:
        return multiply(x1, x2)
    if not isinstance(x1, GraphTensor) or isinstance(x2, GraphTensor) or len(_shape(x2)) > 2:
        raise ValueError(f"ember.ops.dot: inside a layer, dot({_shape(x1)}, {_shape(x2)}) "
                         "must be a batched value times a 1-D or 2-D weight or constant (dot "
                         "of two batched values would pair every sample with every other); "
                         "use ops.matmul or ops.einsum")
    if len(_shape(x2)) == 1:
        return sum(multiply(x1, x2), axis=-1)
    return matmul(x1, x2)


def _shape(x):
    return x.shape if hasattr(x, "shape") else np.shape(x)


# ---------------------------------------------------------------------------
# the rest of the API a layer's call() commonly touches
# ---------------------------------------------------------------------------
def shape(x):
    """The shape, with None for the batch axis of a graph value."""
    return tuple(_shape(x))


def cast(x, dtype):
    if isinstance(x, GraphTensor):
        if str(np.dtype(dtype)) != "float32":
            raise ValueError(f"ember.ops.cast: graph values are float32; cannot cast to {dtype}")
        return x
    return np.asarray(x).astype(dtype)


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    if isinstance(x, GraphTensor):
        return x
    return np.asarray(_np(x), dtype=dtype)


def convert_to_numpy(x):
    return np.asarray(x)


def _graph_dtype(op, dtype):
    if dtype is not None and np.dtype(dtype) != _F32:
        raise ValueError(f"ember.ops.{op}: graph values are float32; cannot make {dtype}")


def zeros_like(x, dtype=None):
    if isinstance(x, GraphTensor):
        _graph_dtype("zeros_like", dtype)
        return multiply(x, 0.0)
    return np.zeros_like(np.asarray(_np(x)), dtype=dtype)


def ones_like(x, dtype=None):
    if isinstance(x, GraphTensor):
        _graph_dtype("ones_like", dtype)
        return add(multiply(x, 0.0), 1.0)
    return np.ones_like(np.asarray(_np(x)), dtype=dtype)


def zeros(shape, dtype=None):
    return np.zeros(shape, dtype or _F32)


def ones(shape, dtype=None):
    return np.ones(shape, dtype or _F32)
