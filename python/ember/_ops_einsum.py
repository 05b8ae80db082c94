"""`ops.einsum` on graph values: one or two operands, lowered to the engine's ops.

A contraction that is a matrix product becomes one (x @ W for a weight or constant, or a
per-sample batched product when both operands are graph values), between transposes and
reshapes; anything else (a letter kept from both operands, a transposed weight) becomes a
broadcast multiply and a sum over the contracted letters. The batch axis is each graph
operand's first letter and must lead the output.
"""

import math

import numpy as np

from ember._ops import (
    _F32,
    GraphTensor,
    _reshaped,
    _shape,
    matmul,
    multiply,
    sum,
    transpose,
)
from ember.variables import Variable


def _parse(subscripts, shapes):
    """(input letter lists, output letter list), each '...' replaced by capital letters
    (right-aligned across operands, as NumPy broadcasts them)."""
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"ember.ops.einsum: {subscripts!r} names {len(terms)} operands, "
                         f"got {len(shapes)}")
    n_ell = 0
    for t, shape in zip(terms, shapes):
        if "..." in t:
            n_ell = max(n_ell, len(shape) - len(t.replace("...", "")))
    ell = [chr(ord("A") + i) for i in range(n_ell)]
    inputs = []
    for t, shape in zip(terms, shapes):
        if "..." in t:
            head, _, tail = t.partition("...")
            k = len(shape) - len(head) - len(tail)
            letters = list(head) + ell[n_ell - k:] + list(tail)
        else:
            letters = list(t)
        if len(letters) != len(shape):
            raise ValueError(f"ember.ops.einsum: {t!r} has {len(letters)} letters for an "
                             f"operand of shape {tuple(shape)}")
        inputs.append(letters)
    if arrow:
        head, dots, tail = rhs.partition("...")
        out = list(head) + (ell if dots else []) + list(tail)
    else:
        counts = {}
        for letters in inputs:
            for c in letters:
                counts[c] = counts.get(c, 0) + 1
        out = ell + sorted(c for c, n in counts.items() if n == 1 and c not in ell)
    return inputs, out


def _arrange(x, letters, target, sizes):
    """Graph value x (axes named by letters, the batch letter first) transposed to the order
    of `target` and reshaped with length-1 axes for target's letters it lacks."""
    order = [c for c in target if c in letters]
    if order != letters:
        x = transpose(x, [letters.index(c) for c in order])
    row = [sizes[c] if c in letters else 1 for c in target[1:]]
    if tuple(row) != x._row:
        x = _reshaped(x, row, "einsum")
    return x


def _finish(y, letters, out, sizes):
    """y (letters, contracted ones still present) summed over what out lacks, then
    transposed to out's order."""
    drop = [i for i, c in enumerate(letters) if c not in out]
    if drop:
        y = sum(y, axis=drop)
        letters = [c for c in letters if c in out]
    if letters != out:
        y = transpose(y, [letters.index(c) for c in out])
    return y


def einsum_graph(subscripts, operands):
    if len(operands) > 2:
        raise NotImplementedError("ember.ops.einsum: inside a layer, einsum takes one or two "
                                  "operands; chain two-operand einsums instead")
    shapes = [_shape(o) for o in operands]
    inputs, out = _parse(subscripts, shapes)
    for letters in inputs:
        if len(set(letters)) != len(letters):
            raise NotImplementedError(f"ember.ops.einsum: inside a layer, a letter repeated in "
                                      f"one operand (a diagonal) is not supported: "
                                      f"{subscripts!r}")
    graphs = [i for i, o in enumerate(operands) if isinstance(o, GraphTensor)]
    batch = inputs[graphs[0]][0]
    if any(inputs[i][0] != batch for i in graphs) or not out or out[0] != batch:
        raise ValueError(f"ember.ops.einsum: inside a layer, {subscripts!r} must keep the batch "
                         "axis: the first letter of each batched operand, and of the output")
    sizes = {}
    for letters, shape in zip(inputs, shapes):
        for c, d in zip(letters, shape):
            if c == batch:
                continue
            if c in sizes and sizes[c] != d:
                raise ValueError(f"ember.ops.einsum: letter {c!r} has lengths {sizes[c]} and "
                                 f"{d} in {subscripts!r}")
            sizes[c] = d
    if len(operands) == 1:
        return _finish(operands[0], inputs[0], out, sizes)
    if graphs[0] == 1:  # the batched operand first
        operands, inputs = operands[::-1], inputs[::-1]
    (a, b), (la, lb) = operands, inputs
    if not isinstance(b, GraphTensor) and batch in lb:
        raise ValueError(f"ember.ops.einsum: a weight or constant cannot share the batch letter "
                         f"{batch!r} in {subscripts!r}")
    # Letters only in a and not kept are summed first.
    a_only = [c for c in la if c not in lb and c not in out]
    if a_only:
        a = sum(a, axis=[la.index(c) for c in a_only])
        la = [c for c in la if c not in a_only]
    if isinstance(b, GraphTensor):
        b_only = [c for c in lb if c not in la and c not in out]
        if b_only:
            b = sum(b, axis=[lb.index(c) for c in b_only])
            lb = [c for c in lb if c not in b_only]
    contracted = [c for c in la if c in lb and c not in out and c != batch]
    kept_both = [c for c in la if c in lb and c in out and c != batch]
    a_rest = [c for c in la if c not in contracted]
    b_rest = [c for c in lb if c not in contracted and c != batch]
    if contracted and not kept_both:
        product = _as_matmul(a, b, la, lb, a_rest, b_rest, contracted, sizes)
        if product is not None:
            return _finish(product, a_rest + b_rest, out, sizes)
    # A broadcast product over every letter, summed over the contracted ones.
    if isinstance(b, GraphTensor):
        order = [batch] + [c for c in la if c not in lb and c != batch] + lb[1:]
        y = multiply(_arrange(a, la, order, sizes), _arrange(b, lb, order, sizes))
    else:
        order = [batch] + [c for c in la if c not in lb and c != batch] + lb
        y = multiply(_arrange(a, la, order, sizes), b)
    return _finish(y, order, out, sizes)


def _as_matmul(a, b, la, lb, a_rest, b_rest, contracted, sizes):
    """a . b as one matrix product, or None when b's layout does not allow one."""
    k = math.prod(sizes[c] for c in contracted)
    m_row = [sizes[c] for c in a_rest[1:]]
    n_row = [sizes[c] for c in b_rest]
    if isinstance(b, GraphTensor):
        # Per sample: (m, k) @ (k, n).
        a2 = _reshaped(_arrange(a, la, a_rest + contracted, sizes), [math.prod(m_row), k],
                       "einsum")
        b2 = _reshaped(_arrange(b, lb, [lb[0]] + contracted + b_rest, sizes),
                       [k, math.prod(n_row)], "einsum")
        y = matmul(a2, b2)
    else:
        if isinstance(b, Variable):
            # A weight is used as stored: (contracted..., kept...) in that order, 2-D.
            if lb != contracted + b_rest or len(lb) != 2:
                return None
            w = b
        else:
            c = np.asarray(b, dtype=_F32)
            w = np.ascontiguousarray(
                np.transpose(c, [lb.index(x) for x in contracted + b_rest]).reshape(
                    k, math.prod(n_row)))
        a2 = _reshaped(_arrange(a, la, a_rest + contracted, sizes), m_row + [k], "einsum")
        y = matmul(a2, w)
    return _reshaped(y, m_row + n_row, "einsum")
