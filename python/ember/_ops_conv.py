"""Keras's convolution and pooling ops (`keras.ops.nn`): conv, depthwise_conv,
separable_conv, conv_transpose, max_pool, average_pool.

Inside a layer each records the engine's own ConvOp / PoolOp (the ones the Conv and
Pooling layers use: one GEMM per group over im2col patches, differentiated by the
engine), with the kernel a weight or a constant. On arrays each is NumPy: patches from a
sliding window, contracted with einsum (BLAS), in float32 as jax computes them.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ember._ops import (
    _F32,
    GraphTensor,
    _check_weights_alone,
    _core,
    _name,
    _np_float,
    _shape,
    _wrap,
    add,
    concatenate,
    divide,
    matmul,
    maximum,
    reshape,
    take,
)
from ember._ops_numpy import _lowered, pad
from ember.variables import Variable


def _tuple(value, n, what, op):
    t = (int(value),) * n if np.ndim(value) == 0 else tuple(int(v) for v in value)
    if len(t) != n:
        raise ValueError(f"ember.ops.{op}: {what} must have {n} entries, got {value!r}")
    return t


def _data_format(data_format):
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"unknown data_format {data_format!r}")
    return fmt


def _padding(padding, op):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"ember.ops.{op}: padding must be 'valid' or 'same', got {padding!r}")
    return p


def _same_pads(size, k, s, d):
    """jax's SAME padding: the output has ceil(size / s) positions, padded low side first."""
    eff = (k - 1) * d + 1
    total = max((-(-size // s) - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def _patches(x, kernel_size, strides, dilation, padding, fill=0.0):
    """x (batch, *spatial, channels) -> (batch, *out_spatial, channels, *kernel_size)."""
    n = len(kernel_size)
    if padding == "same":
        pads = [_same_pads(x.shape[1 + i], kernel_size[i], strides[i], dilation[i])
                for i in range(n)]
        x = np.pad(x, [(0, 0)] + pads + [(0, 0)], constant_values=fill)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel_size, dilation)]
    if any(x.shape[1 + i] < eff[i] for i in range(n)):
        raise ValueError(f"the input's spatial shape {x.shape[1:-1]} is smaller than the "
                         f"(dilated) window {tuple(eff)}")
    win = sliding_window_view(x, eff, axis=tuple(range(1, n + 1)))
    key = ((slice(None),) + tuple(slice(None, None, s) for s in strides) + (slice(None),)
           + tuple(slice(None, None, d) for d in dilation))
    return win[key]


def _letters(n):
    return "".join("hijk"[:n])


def _channels_last(x, fmt):
    return np.moveaxis(x, 1, -1) if fmt == "channels_first" else x


def _restore(y, fmt):
    return np.moveaxis(y, -1, 1) if fmt == "channels_first" else y


def _conv_eager(x, kernel, strides, padding, dilation, depthwise=False):
    n = kernel.ndim - 2
    k = _letters(n)
    p = _patches(x, kernel.shape[:n], strides, dilation, padding)  # (b, *o, c, *k)
    b_o = p.shape[:1 + n]
    if depthwise:
        c, m = kernel.shape[-2:]
        y = np.einsum(f"...c{k},{k}cm->...cm", p, kernel, optimize=True)
        return y.reshape(b_o + (c * m,))
    cin, cout = x.shape[-1], kernel.shape[-1]
    groups = cin // kernel.shape[-2]
    p = p.reshape(b_o + (groups, cin // groups) + p.shape[2 + n:])
    w = kernel.reshape(kernel.shape[:n] + (cin // groups, groups, cout // groups))
    y = np.einsum(f"...gc{k},{k}cgo->...go", p, w, optimize=True)
    return y.reshape(b_o + (cout,))


def _kernel_operand(kernel, op):
    if isinstance(kernel, GraphTensor):
        raise NotImplementedError(f"ember.ops.{op}: inside a layer the kernel must be a weight "
                                  "or a constant, not a value computed from the inputs")
    if isinstance(kernel, Variable):
        return kernel._core, tuple(kernel.shape)
    value = np.ascontiguousarray(_np_float(kernel))
    return _core.Variable("constant", value, False), value.shape


def _record_conv(op, inputs, kernel, strides, padding, dilation, fmt, *, depthwise=False,
                 transpose=False, output_padding=None):
    w, shape = _kernel_operand(kernel, op)
    n = len(shape) - 2
    if inputs.ndim != n + 2:
        raise ValueError(f"ember.ops.{op}: a rank-{len(shape)} kernel needs rank-{n + 2} "
                         f"inputs, got {inputs.shape}")
    if n not in (1, 2):
        raise NotImplementedError(f"ember.ops.{op}: inside a layer the engine convolves 1-D "
                                  f"and 2-D inputs; this kernel has {n} spatial axes")
    channels = inputs.shape[1 if fmt == "channels_first" else -1]
    groups = 1 if depthwise or transpose else channels // shape[-2]
    node = _core.add_conv(inputs._graph, inputs._node, w, None, list(shape[:n]),
                          list(_tuple(strides, n, "strides", op)),
                          list(_tuple(dilation, n, "dilation_rate", op)), padding,
                          [] if output_padding is None else
                          list(_tuple(output_padding, n, "output_padding", op)),
                          groups, fmt == "channels_first", transpose, depthwise, "linear",
                          _name(op))
    return _wrap(inputs._graph, node)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution; kernel (*kernel_size, in_channels / groups, out_channels)."""
    fmt, pad = _data_format(data_format), _padding(padding, "conv")
    if isinstance(inputs, GraphTensor):
        return _record_conv("conv", inputs, kernel, strides, pad, dilation_rate, fmt)
    _check_weights_alone("conv", inputs, kernel)
    x, w = _channels_last(_np_float(inputs), fmt), _np_float(kernel)
    n = w.ndim - 2
    if x.shape[-1] % w.shape[-2]:
        raise ValueError(f"ember.ops.conv: {x.shape[-1]} input channels are not a multiple of "
                         f"the kernel's {w.shape[-2]}")
    y = _conv_eager(x, w, _tuple(strides, n, "strides", "conv"), pad,
                    _tuple(dilation_rate, n, "dilation_rate", "conv"))
    return _restore(y, fmt).astype(_F32)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Each input channel convolved with its own filters; kernel (*kernel_size, in_channels,
    multiplier)."""
    fmt, pad = _data_format(data_format), _padding(padding, "depthwise_conv")
    if isinstance(inputs, GraphTensor):
        return _record_conv("depthwise_conv", inputs, kernel, strides, pad, dilation_rate, fmt,
                            depthwise=True)
    _check_weights_alone("depthwise_conv", inputs, kernel)
    x, w = _channels_last(_np_float(inputs), fmt), _np_float(kernel)
    n = w.ndim - 2
    y = _conv_eager(x, w, _tuple(strides, n, "strides", "depthwise_conv"), pad,
                    _tuple(dilation_rate, n, "dilation_rate", "depthwise_conv"), depthwise=True)
    return _restore(y, fmt).astype(_F32)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format,
                               dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, 1)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """The gradient of conv with respect to its input; kernel (*kernel_size, out_channels,
    in_channels)."""
    fmt, pad = _data_format(data_format), _padding(padding, "conv_transpose")
    if isinstance(inputs, GraphTensor):
        return _record_conv("conv_transpose", inputs, kernel, strides, pad, dilation_rate, fmt,
                            transpose=True, output_padding=output_padding)
    _check_weights_alone("conv_transpose", inputs, kernel)
    x, w = _channels_last(_np_float(inputs), fmt), _np_float(kernel)
    n = w.ndim - 2
    s = _tuple(strides, n, "strides", "conv_transpose")
    d = _tuple(dilation_rate, n, "dilation_rate", "conv_transpose")
    op = (None,) * n if output_padding is None else _tuple(output_padding, n, "output_padding",
                                                           "conv_transpose")
    # The input spread out by the strides, padded as Keras's jax backend pads it, then
    # correlated with the kernel (read as (*kernel_size, in, out) once flipped and swapped).
    spread = np.zeros((x.shape[0],) + tuple((x.shape[1 + i] - 1) * s[i] + 1 for i in range(n))
                      + (x.shape[-1],), _F32)
    spread[(slice(None),) + tuple(slice(None, None, si) for si in s)] = x
    pads = [_transpose_pads(w.shape[i], s[i], d[i], pad, op[i]) for i in range(n)]
    spread = np.pad(spread, [(0, 0)] + pads + [(0, 0)])
    flipped = np.swapaxes(w[tuple(slice(None, None, -1) for _ in range(n))], -1, -2)
    y = _conv_eager(spread, np.ascontiguousarray(flipped), (1,) * n, "valid", d)
    return _restore(y, fmt).astype(_F32)


def _transpose_pads(k, s, d, padding, output_padding):
    """Keras's jax backend's (left, right) padding of the spread-out input."""
    k = (k - 1) * d + 1
    if padding == "valid":
        extra = max(k, s) - k if output_padding is None else output_padding
        return k - 1, k - 1 + extra
    length = s + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(length // 2 + length % 2, k - 1)
    return left, length - left


def _pool(op, is_max, inputs, pool_size, strides, padding, data_format):
    fmt, pad = _data_format(data_format), _padding(padding, op)
    n = len(_shape(inputs)) - 2
    size = _tuple(pool_size, n, "pool_size", op)
    step = size if strides is None else _tuple(strides, n, "strides", op)
    if isinstance(inputs, GraphTensor):
        if n not in (1, 2):
            raise NotImplementedError(f"ember.ops.{op}: inside a layer the engine pools 1-D and "
                                      f"2-D inputs; got {inputs.shape}")
        node = _core.add_pooling(inputs._graph, inputs._node, is_max, list(size), list(step),
                                 pad == "same", fmt == "channels_first", _name(op))
        return _wrap(inputs._graph, node)
    _check_weights_alone(op, inputs)
    x = _channels_last(_np_float(inputs), fmt)
    ones = (1,) * n
    if is_max:
        y = _patches(x, size, step, ones, pad, fill=-np.inf).max(axis=tuple(range(-n, 0)))
    else:
        # Padded positions are not counted (jax divides by the window's valid elements).
        total = _patches(x, size, step, ones, pad).sum(axis=tuple(range(-n, 0)))
        count = _patches(np.ones_like(x[:1, ..., :1]), size, step, ones, pad).sum(
            axis=tuple(range(-n, 0)))
        y = total / count
    return _restore(y, fmt).astype(_F32)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("max_pool", True, inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("average_pool", False, inputs, pool_size, strides, padding, data_format)


def _adaptive_axis(x, axis, out, is_max):
    """Keras's adaptive pooling along one axis: windows of the two sizes a bin can have
    (ceil(length / out) and one more), pooled at stride 1, then one gather picks each bin's."""
    length = _shape(x)[axis]
    small = -(-length // out)
    starts = (np.arange(out) * length) // out
    ends = -((-np.arange(1, out + 1) * length) // out)
    pooled = []
    for k in (small, small + 1):
        n = length - k + 1
        if n <= 0:
            break
        acc = take(x, np.arange(n), axis=axis)
        for j in range(1, k):
            acc = (maximum if is_max else add)(acc, take(x, np.arange(j, j + n), axis=axis))
        pooled.append(acc if is_max else divide(acc, float(k)))
    gather = np.where(ends - starts == small + 1, starts + length - small + 1, starts)
    combined = pooled[0] if len(pooled) == 1 else concatenate(pooled, axis=axis)
    return take(combined, gather, axis=axis)


def _adaptive(op, is_max, inputs, output_size, data_format):
    fmt = _data_format(data_format)
    rank = len(_shape(inputs))
    n = rank - 2
    if n not in (1, 2, 3):
        raise ValueError(f"ember.ops.{op}: inputs must be 3-D to 5-D, got {_shape(inputs)}")
    size = _tuple(output_size, n, "output_size", op)
    x = inputs if isinstance(inputs, GraphTensor) else _np_float(inputs)
    if not isinstance(inputs, GraphTensor):
        _check_weights_alone(op, inputs)
    first = 2 if fmt == "channels_first" else 1
    for i in range(n):
        x = _adaptive_axis(x, first + i, size[i], is_max)
    return x


def adaptive_average_pool(inputs, output_size, data_format=None):
    return _adaptive("adaptive_average_pool", False, inputs, output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    return _adaptive("adaptive_max_pool", True, inputs, output_size, data_format)


def _pair(value):
    return (int(value), int(value)) if np.ndim(value) == 0 else tuple(int(v) for v in value)


def _unfold_positions(a, k, d, s):
    """(N, C, H, W) already padded -> (N, C*kH*kW, L), channels slowest, as jax's patches."""
    p = _patches(np.moveaxis(a, 1, -1), k, s, d, "valid")  # (N, oH, oW, C, kH, kW)
    n, oh, ow = p.shape[:3]
    return p.transpose(0, 3, 4, 5, 1, 2).reshape(n, -1, oh * ow)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002  (Keras's name)
    """Sliding blocks of an NCHW image: (N, C, H, W) -> (N, C*kH*kW, L)."""
    if len(_shape(input)) != 4:
        raise ValueError(f"ember.ops.unfold: input must be 4-D (N, C, H, W), got {_shape(input)}")
    k, d, p, s = (_pair(v) for v in (kernel_size, dilation, padding, stride))
    widths = ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))
    if isinstance(input, GraphTensor):
        x = pad(input, widths) if any(p) else input
        return _lowered(x, "unfold", lambda a: _unfold_positions(a, k, d, s))
    _check_weights_alone("unfold", input)
    x = np.pad(_np_float(input), widths)
    return _unfold_positions(x, k, d, s).astype(_F32)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold (col2im): blocks (N, C*kH*kW, L) summed into (N, C, oH, oW)."""
    if len(_shape(x)) != 3:
        raise ValueError(f"ember.ops.fold: x must be 3-D (N, C*kH*kW, L), got {_shape(x)}")
    (oh, ow), k, d, p, s = (_pair(v) for v in (output_size, kernel_size, dilation, padding,
                                               stride))
    ckk, length = _shape(x)[1:]
    c = ckk // (k[0] * k[1])
    # Where each block element lands: unfold of the (padded) output positions.
    positions = np.arange(c * (oh + 2 * p[0]) * (ow + 2 * p[1])).reshape(
        1, c, oh + 2 * p[0], ow + 2 * p[1])
    index = _unfold_positions(positions, k, d, s)[0]
    if index.shape != (ckk, length):
        raise ValueError(f"ember.ops.fold: blocks of shape {(ckk, length)} do not tile an "
                         f"output of {(oh, ow)} with these kernel_size/dilation/stride/padding")
    keep = positions[0][:, p[0]:p[0] + oh, p[1]:p[1] + ow].ravel()
    if isinstance(x, GraphTensor):
        # One GEMM with the 0/1 matrix that sums each block element into its output position.
        rows = ckk * length
        if rows * keep.size > 1 << 24:
            raise ValueError(f"ember.ops.fold: inside a layer fold is a GEMM with a "
                             f"{rows} x {keep.size} constant, too large here")
        where = {int(q): i for i, q in enumerate(keep)}
        m = np.zeros((rows, keep.size), _F32)
        for r, q in enumerate(index.ravel()):
            if int(q) in where:
                m[r, where[int(q)]] = 1.0
        return reshape(matmul(reshape(x, (-1, rows)), m), (-1, c, oh, ow))
    _check_weights_alone("fold", x)
    a = _np_float(x)
    out = np.zeros((a.shape[0], positions.size), a.dtype)
    np.add.at(out, (slice(None), index.ravel()), a.reshape(a.shape[0], -1))
    out = out.reshape((a.shape[0],) + positions.shape[1:])
    return out[:, :, p[0]:p[0] + oh, p[1]:p[1] + ow]
