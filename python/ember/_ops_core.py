"""Keras's core ops (`keras.ops.core`): control flow on concrete values, stop_gradient,
saturate_cast, loops.

Control flow decides in Python, so its predicate or index must be a concrete value (a
number or an array), never a graph value: a layer's graph is recorded once, and a branch
taken per sample would need the values. Loops with a concrete trip count unroll, so
their bodies may record graph ops.
"""

import numpy as np

from ember._ops import GraphTensor, _check_weights_alone, _core, _name, _np, _out, _wrap


def _concrete(op, value, what):
    if isinstance(value, GraphTensor):
        raise NotImplementedError(
            f"ember.ops.{op}: its {what} is a graph value, known only when the model runs; "
            "inside a layer decide with ops.where (elementwise) instead")
    return np.asarray(_np(value))


def cond(pred, true_fn, false_fn):
    return true_fn() if bool(_concrete("cond", pred, "predicate")) else false_fn()


def switch(index, branches, *operands):
    """branches[index](*operands), the index clamped to the branches (as jax clamps it)."""
    i = int(_concrete("switch", index, "index"))
    return branches[min(max(i, 0), len(branches) - 1)](*operands)


def stop_gradient(variable):
    """The value, through which no gradient flows back."""
    if isinstance(variable, GraphTensor):
        g = variable._graph
        return _wrap(g, _core.add_unary(g, "stop_gradient", variable._node, _name("stop_gradient")))
    return np.array(_np(variable))


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(int(_concrete("fori_loop", lower, "lower bound")),
                   int(_concrete("fori_loop", upper, "upper bound"))):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    single = not isinstance(loop_vars, (list, tuple))
    state = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while (maximum_iterations is None or n < maximum_iterations) and bool(
            _concrete("while_loop", cond(*state), "condition")):
        out = body(*state)
        state = (out,) if single else tuple(out)
        n += 1
    return state[0] if single else type(loop_vars)(state)


def map(f, xs):  # noqa: A001  (Keras's name)
    _check_weights_alone("map", xs)
    if isinstance(xs, GraphTensor):
        raise NotImplementedError("ember.ops.map: mapping over a graph value's first axis "
                                  "would run per sample; write the op on the whole batch")
    return np.stack([np.asarray(f(x)) for x in np.asarray(_np(xs))])


def vectorized_map(function, elements):
    return map(function, elements)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    if isinstance(xs, GraphTensor):
        raise NotImplementedError("ember.ops.scan: scanning over a graph value's first axis "
                                  "would run per sample")
    items = [None] * int(length) if xs is None else list(np.asarray(_np(xs)))
    if reverse:
        items = items[::-1]
    carry, ys = init, []
    for x in items:
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    stacked = None if not ys or ys[0] is None else _out(np.stack([np.asarray(y) for y in ys]))
    return carry, stacked


def associative_scan(f, elems, reverse=False, axis=0):
    if isinstance(elems, GraphTensor):
        raise NotImplementedError("ember.ops.associative_scan cannot be recorded in a model's "
                                  "graph; use ops.cumsum / ops.cumprod there")
    a = np.moveaxis(np.asarray(_np(elems)), axis, 0)
    if reverse:
        a = a[::-1]
    out = [a[0]]
    for x in a[1:]:
        out.append(np.asarray(f(out[-1], x)))
    out = np.stack(out)
    if reverse:
        out = out[::-1]
    return _out(np.moveaxis(out, 0, axis))


def saturate_cast(x, dtype):
    """Clips to dtype's range, then casts (where a plain cast would wrap around)."""
    if isinstance(x, GraphTensor):
        raise ValueError(f"ember.ops.saturate_cast: graph values are float32; cannot cast to "
                         f"{dtype}")
    a = np.asarray(_np(x))
    dt = np.dtype(dtype)
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        a = np.clip(a, info.min, info.max)
    elif np.issubdtype(dt, np.floating):
        info = np.finfo(dt)
        a = np.clip(a, info.min, info.max)
    return a.astype(dt)


def custom_gradient(f):
    """Eagerly, f's value (there is no gradient to customise). Inside a layer the engine
    differentiates its own ops, so a custom gradient cannot be honoured and raises."""
    def wrapped(*args, **kwargs):
        if any(isinstance(a, GraphTensor) for a in args):
            raise NotImplementedError(
                "ember.ops.custom_gradient: the engine differentiates the ops a layer records "
                "and cannot run a Python gradient function; write the forward with ops whose "
                "gradients are the ones you want (ops.stop_gradient helps)")
        out = f(*args, **kwargs)
        return out[0] if isinstance(out, tuple) and len(out) == 2 and callable(out[1]) else out

    return wrapped
