"""`ember.ops` beyond the basics (issue 17): every op against `keras.ops` (jax).

Eagerly each op runs on the same fresh random arrays in both libraries: the values and
the dtypes must agree (integer inputs keep integer dtypes where Keras keeps them). The
differentiable ones then run inside a custom layer, the same body with ember.ops and with
keras.ops (tests/test_custom_layers.py's harness): same outputs, and the same weights after
two epochs of SGD, which checks the gradients the engine records against jax's.
"""

import ember
import numpy as np
import pytest
from ember import layers, ops
from parity import assert_weights_close
from test_custom_layers import _model, _weights, make_layer_class


def _inputs(rng):
    spd = rng.normal(size=(4, 4))
    nan = rng.normal(size=(3, 4, 5)).astype(np.float32)
    nan[0, 0, :3] = [np.nan, np.inf, -np.inf]
    return {
        "nan": rng.permuted(nan.ravel()).reshape(nan.shape),
        "f": rng.normal(size=(3, 4, 5)).astype(np.float32),
        "g": rng.normal(size=(3, 4, 5)).astype(np.float32),
        "p": rng.uniform(0.2, 3.0, (3, 4, 5)).astype(np.float32),
        "u": rng.uniform(-0.9, 0.9, (3, 4, 5)).astype(np.float32),
        "i": rng.integers(-5, 6, (3, 4, 5)).astype(np.int32),
        "j": rng.integers(1, 6, (3, 4, 5)).astype(np.int32),
        "v": rng.normal(size=(5,)).astype(np.float32),
        "m": rng.normal(size=(4, 4)).astype(np.float32),
        "s": (spd @ spd.T + 4 * np.eye(4)).astype(np.float32),
        "b": rng.normal(size=(4, 2)).astype(np.float32),
        "c": rng.integers(0, 5, (3, 4)).astype(np.int32),
        "w": rng.normal(size=(5, 6)).astype(np.float32),
    }


# (id, fn(ops module, inputs)): each runs with ember.ops and with keras.ops.
EAGER = [
    # creation
    ("arange", lambda o, d: [o.arange(7), o.arange(1, 9, 2), o.arange(0.5, 3.0, 0.5)]),
    ("full", lambda o, d: [o.full((2, 3), 1.5), o.full_like(d["i"], 2), o.full_like(d["f"], 3)]),
    ("eye_tri_identity", lambda o, d: [o.eye(3), o.eye(3, 4, 1), o.tri(3, 4, -1),
                                       o.identity(3)]),
    ("ones_zeros_like", lambda o, d: [o.ones_like(d["i"]), o.zeros_like(d["f"], dtype="int32"),
                                      o.ones_like(d["f"], dtype="float32")]),
    ("linspace", lambda o, d: [o.linspace(0.0, 1.0, 7), o.logspace(0.0, 2.0, 5),
                               o.geomspace(1.0, 100.0, 5)]),
    ("meshgrid", lambda o, d: o.meshgrid(d["v"], d["v"][:3])),
    # elementwise math, keeping integer dtypes where Keras does
    ("trig", lambda o, d: [o.sin(d["f"]), o.cos(d["f"]), o.tan(d["u"]), o.arcsin(d["u"]),
                           o.arccos(d["u"]), o.arctan(d["f"]), o.sinh(d["f"]), o.cosh(d["f"]),
                           o.arcsinh(d["f"]), o.arccosh(d["p"] + 1), o.arctanh(d["u"])]),
    ("logs", lambda o, d: [o.log1p(d["p"]), o.expm1(d["f"]), o.log2(d["p"]), o.log10(d["p"]),
                           o.exp2(d["f"]), o.log1p(d["j"]), o.exp2(d["i"])]),
    ("rounding", lambda o, d: [o.floor(d["f"] * 3), o.ceil(d["f"] * 3), o.round(d["f"] * 3),
                               o.trunc(d["f"] * 3), o.round(d["f"], 2), o.floor(d["i"]),
                               o.round(d["i"]), o.trunc(d["i"])]),
    ("int_arithmetic", lambda o, d: [o.add(d["i"], 2), o.multiply(d["i"], d["j"]),
                                     o.subtract(d["i"], 1.5), o.divide(d["i"], d["j"]),
                                     o.power(d["i"], 2), o.abs(d["i"]), o.square(d["i"]),
                                     o.negative(d["i"]), o.sign(d["i"]), o.maximum(d["i"], 0),
                                     o.clip(d["i"], -2, 2), o.sqrt(d["j"]),
                                     o.floor_divide(d["i"], d["j"]), o.mod(d["i"], d["j"])]),
    ("int_reductions", lambda o, d: [o.sum(d["i"]), o.max(d["i"], axis=1), o.mean(d["i"]),
                                     o.prod(d["j"], axis=-1), o.cumsum(d["i"], axis=1),
                                     o.cumprod(d["j"], axis=2), o.var(d["i"]),
                                     o.amax(d["i"], axis=0), o.amin(d["i"])]),
    ("float_binary", lambda o, d: [o.arctan2(d["f"], d["g"]), o.hypot(d["f"], d["g"]),
                                   o.logaddexp(d["f"], d["g"]), o.logaddexp2(d["f"], d["g"]),
                                   o.floor_divide(d["f"], d["p"]), o.mod(d["f"], d["p"]),
                                   o.divide_no_nan(d["f"], d["f"] * (d["g"] > 0)),
                                   o.fmod(d["f"], d["p"]), o.heaviside(d["f"], 0.5)]),
    ("misc_unary", lambda o, d: [o.rsqrt(d["p"]), o.cbrt(d["f"]), o.erf(d["f"]),
                                 o.erfinv(d["u"]), o.deg2rad(d["f"]), o.rad2deg(d["f"]),
                                 o.sinc(d["f"]), o.fabs(d["f"]), o.i0(d["f"])]),
    # comparisons and logic
    ("compare", lambda o, d: [o.equal(d["i"], d["j"]), o.not_equal(d["i"], 1),
                              o.greater(d["f"], d["g"]), o.greater_equal(d["i"], 0),
                              o.less(d["f"], 0.1), o.less_equal(d["f"], d["g"])]),
    ("logic", lambda o, d: [o.logical_and(d["f"] > 0, d["g"] > 0), o.logical_or(d["i"], d["j"]),
                            o.logical_not(d["i"]), o.logical_xor(d["f"] > 0, d["g"] > 0),
                            o.all(d["f"] > -1, axis=1), o.any(d["i"] > 4), o.all(d["j"])]),
    ("isnan", lambda o, d: [o.isnan(d["nan"]), o.isfinite(d["nan"]), o.isinf(d["nan"]),
                            o.isneginf(d["nan"]), o.isposinf(d["nan"]),
                            o.isclose(d["f"], d["f"] + 1e-6), o.allclose(d["f"], d["f"])]),
    ("where", lambda o, d: [o.where(d["f"] > 0, d["f"], d["g"]), o.where(d["i"] > 0, d["i"], 0),
                            o.where(d["f"] > 0, 1.0, -1.0)[0], o.where(d["c"] > 2)]),
    # reductions
    ("reductions", lambda o, d: [o.logsumexp(d["f"], axis=-1), o.logsumexp(d["f"]),
                                 o.prod(d["u"], axis=(0, 2), keepdims=True), o.ptp(d["f"], 1),
                                 o.cumsum(d["f"]), o.cumprod(d["u"], axis=0),
                                 o.count_nonzero(d["i"], axis=1), o.median(d["f"], axis=1),
                                 o.quantile(d["f"], 0.3, axis=-1), o.average(d["f"], 1, d["p"][0,
                                                                                            :, 0]),
                                 o.std(d["i"])]),
    ("arg", lambda o, d: [o.argmax(d["f"], axis=1), o.argmin(d["f"]), o.argsort(d["f"]),
                          o.sort(d["f"], axis=1), o.argmax(d["c"], axis=-1, keepdims=True)]),
    ("top_k", lambda o, d: list(o.top_k(d["f"], 3)) + [o.in_top_k(d["c"][0], d["f"][0], 2)]),
    # shape and indexing
    ("shape_ops", lambda o, d: [o.flip(d["f"], 1), o.flip(d["i"]), o.roll(d["f"], 2, axis=-1),
                                o.roll(d["i"], 3), o.moveaxis(d["f"], 0, -1),
                                o.swapaxes(d["f"], 1, 2), o.tile(d["i"], (2, 1, 1)),
                                o.repeat(d["f"], 2, axis=1), o.repeat(d["i"], 2),
                                o.broadcast_to(d["v"], (2, 3, 5)), o.ravel(d["i"]),
                                o.rot90(d["m"]), o.fliplr(d["m"]), o.flipud(d["m"])]),
    ("stack_split", lambda o, d: [o.stack([d["f"], d["g"]], axis=1), *o.unstack(d["i"], axis=1),
                                  *o.split(d["f"], 2, axis=1), *o.split(d["f"], [1, 3], axis=-1),
                                  *o.array_split(d["f"], 3, axis=-1), o.hstack([d["f"], d["g"]]),
                                  o.vstack([d["m"], d["m"]]), o.dstack([d["m"], d["m"]]),
                                  o.append(d["f"], d["g"], axis=2)]),
    ("take_along_axis", lambda o, d: [o.take_along_axis(d["f"], d["c"][..., None] % 5, axis=-1),
                                      o.take_along_axis(d["f"], d["c"][:, :1, None] % 4, 1)]),
    ("tril_triu_pad", lambda o, d: [o.tril(d["f"]), o.triu(d["i"], 1), o.tril(d["m"], -1),
                                    o.pad(d["f"], ((0, 0), (1, 2), (2, 0))),
                                    o.pad(d["i"], ((0, 0), (1, 1), (0, 0)), constant_values=7),
                                    o.pad(d["f"], ((1, 0), (2, 1), (0, 0)), mode="reflect"),
                                    o.pad(d["f"], ((0, 0), (1, 1), (2, 1)), mode="symmetric")]),
    ("diag_trace", lambda o, d: [o.diagonal(d["f"], 0, 1, 2), o.trace(d["m"]), o.diag(d["v"]),
                                 o.diag(d["m"], 1), o.diagflat(d["m"][0]), o.diff(d["f"], 2),
                                 o.slice(d["f"], (1, 0, 2), (2, 3, 2)), o.get_item(d["f"], 1)]),
    ("einsum", lambda o, d: [o.einsum("bij,jk->bik", d["f"], d["w"]), o.einsum("ij->ji", d["m"]),
                             o.einsum("bij,bkj->bik", d["f"], d["g"]),
                             o.einsum("...j,j", d["f"], d["v"]), o.einsum("ii", d["m"]),
                             o.einsum("bij,bij->b", d["i"], d["i"]),
                             o.tensordot(d["f"], d["w"], axes=1), o.outer(d["v"], d["v"]),
                             o.inner(d["v"], d["v"]), o.kron(d["m"], d["m"][:2]),
                             o.cross(d["f"][..., :3], d["g"][..., :3]), o.vdot(d["v"], d["v"])]),
    ("dot", lambda o, d: [o.dot(d["f"], 2.0), o.dot(3, d["i"]), o.dot(d["v"], d["v"]),
                          o.dot(d["f"], d["w"]), o.dot(d["f"], d["v"]), o.dot(d["m"], d["m"]),
                          o.dot(d["f"], np.transpose(d["g"], (1, 2, 0)))]),
    ("index_ops", lambda o, d: [o.searchsorted(np.sort(d["v"]), d["v"][:3]),
                                o.digitize(d["f"][0, 0], np.sort(d["v"])),
                                o.bincount(d["c"][0]), o.isin(d["i"], [1, 2]),
                                *o.nonzero(d["c"] > 2), *o.unravel_index(np.int32(7), (3, 4)),
                                *o.histogram(d["v"], bins=4)]),
    ("bitwise", lambda o, d: [o.bitwise_and(d["i"], d["j"]), o.bitwise_or(d["i"], 3),
                              o.bitwise_xor(d["i"], d["j"]), o.bitwise_not(d["i"]),
                              o.left_shift(d["j"], 2), o.right_shift(d["j"], 1),
                              o.gcd(d["i"], d["j"]), o.lcm(d["i"], d["j"])]),
    # nn
    ("nn_activations", lambda o, d: [o.log_sigmoid(d["f"]), o.celu(d["f"], 0.7),
                                     o.glu(d["g"][..., :4]),
                                     o.hard_tanh(d["f"] * 2), o.hard_shrink(d["f"]),
                                     o.soft_shrink(d["f"], 0.3), o.sparse_plus(d["f"] * 2),
                                     o.sparse_sigmoid(d["f"] * 2), o.squareplus(d["f"], 2),
                                     o.threshold(d["f"], 0.2, -1.0), o.tanh_shrink(d["f"]),
                                     o.sparsemax(d["f"])]),
    ("nn_normalization", lambda o, d: [
        *o.moments(d["f"], axes=[0, 2]), o.normalize(d["f"]), o.normalize(d["f"], 1, order=1),
        o.layer_normalization(d["f"], d["v"], d["v"] * 0.5),
        o.layer_normalization(d["f"], axis=(1, 2), epsilon=1e-3),
        o.rms_normalization(d["f"], d["v"]),
        o.batch_normalization(d["f"], d["v"], d["p"][0, 0], axis=-1, offset=d["v"],
                              scale=d["g"][0, 0])]),
    ("ctc", lambda o, d: [
        o.ctc_loss(d["c"][:, :3] % 4 + 1, d["f"], np.array([3, 2, 1]), np.array([4, 3, 4])),
        o.ctc_loss(d["c"] % 3, d["g"], np.array([2, 4, 3]), np.array([4, 4, 2]), mask_index=4),
        *o.ctc_decode(d["f"], np.array([4, 2, 3])),
        *o.ctc_decode(d["g"], np.array([4, 4, 1]), merge_repeated=False, mask_index=2)]),
    ("one_hot", lambda o, d: [o.one_hot(d["c"], 5), o.one_hot(d["c"], 4, axis=0),
                              o.multi_hot(d["c"], 5)]),
    ("crossentropy", lambda o, d: [
        o.binary_crossentropy((d["u"] > 0).astype("float32"), o.sigmoid(d["f"])),
        o.binary_crossentropy((d["u"] > 0).astype("float32"), d["f"], from_logits=True),
        o.categorical_crossentropy(o.softmax(d["g"]), o.softmax(d["f"])),
        o.categorical_crossentropy(o.softmax(d["g"]), d["f"], from_logits=True),
        o.sparse_categorical_crossentropy(d["c"][:, 0] % 4, d["f"][..., 0], from_logits=True),
        o.sparse_categorical_crossentropy(d["c"][:, :1] % 4, o.softmax(d["f"][..., 0])),
        o.psnr(d["u"], d["u"] * 0.9, 1.0)]),
    # linalg, eagerly
    ("linalg", lambda o, d: [o.inv(d["s"]), o.det(d["m"]), o.solve(d["s"], d["b"]),
                             o.cholesky(d["s"]), o.norm(d["f"], axis=-1), o.norm(d["m"]),
                             o.norm(d["m"], ord=1), o.norm(d["f"], ord=3, axis=1),
                             o.logdet(d["s"]), o.linalg.inv(d["s"]), o.linalg.pinv(d["m"]),
                             o.linalg.matrix_rank(d["m"]), o.cholesky_inverse(o.cholesky(d["s"])),
                             o.solve_triangular(np.tril(d["s"]), d["b"], lower=True),
                             o.lstsq(d["m"], d["b"])]),
    ("linalg_decompositions", lambda o, d: [
        np.abs(o.qr(d["m"])[1]), o.svd(d["m"], compute_uv=False), o.eigh(d["s"])[0],
        np.abs(o.svd(d["m"])[0] @ np.diag(o.svd(d["m"])[1]) @ o.svd(d["m"])[2]),
        o.lu_factor(d["s"])[0], o.lu_factor(d["s"])[1]]),
    ("math", lambda o, d: [o.segment_sum(d["f"][0], d["c"][0] % 3, 3),
                           o.segment_max(d["i"][0], d["c"][0] % 3, 4),
                           o.segment_min(d["f"][0], d["c"][0] % 3, 3),
                           o.segment_prod(d["j"][0], d["c"][0] % 3, 3),
                           o.extract_sequences(d["f"], 2, 2), o.extract_sequences(d["v"], 3, 1),
                           *o.fft((d["f"], d["g"])), *o.fft2((d["f"], d["g"])),
                           *o.ifft2((d["f"], d["g"])), *o.rfft(d["f"]),
                           o.irfft((d["f"], d["g"]), 8), o.polar(d["p"], d["f"]),
                           o.view_as_complex(d["f"][..., :2]),
                           o.view_as_real(o.view_as_complex(d["f"][..., :2])),
                           *o.slogdet(d["m"]), o.corrcoef(d["m"]), o.cdist(d["f"], d["g"]),
                           o.vectorize(lambda a, b: a * b + 1)(d["f"], d["g"])]),
    ("stft", lambda o, d: [
        *o.stft(d["f"], 4, 2, 8), *o.stft(d["g"][0, 0], 3, 1, 4, "hamming", center=False),
        *o.stft(d["f"], 5, 2, 5, None), o.istft(o.stft(d["f"], 4, 1, 4), 4, 1, 4),
        o.istft((d["f"], d["g"]), 4, 2, 8, length=7),
        o.istft((d["f"], d["g"]), 6, 3, 8, window=None, center=False)]),
    ("rearrange", lambda o, d: [
        o.rearrange(d["f"], "b h w -> b w h"), o.rearrange(d["i"], "b h w -> b (h w)"),
        o.rearrange(d["f"], "b (h1 h) w -> (b h1) h w", h1=2),
        o.rearrange(d["f"], "b h w -> h (b w)")]),
    ("pixel_shuffle", lambda o, d: [
        o.depth_to_space(d["f"].reshape(1, 3, 1, 20), 2),
        o.depth_to_space(d["f"].reshape(1, 12, 5, 1)[:, :8], 2, "channels_first"),
        o.space_to_depth(d["f"].reshape(1, 6, 10, 1), 2),
        o.space_to_depth(d["f"].reshape(1, 1, 6, 10), 2, "channels_first")]),
    ("core", lambda o, d: [o.cond(d["f"][0, 0, 0] > 0, lambda: d["f"], lambda: d["g"]),
                           o.switch(1, [lambda x: x, lambda x: -x], d["f"]),
                           o.stop_gradient(d["f"]), o.fori_loop(0, 3, lambda i, x: x * 2, d["f"]),
                           o.while_loop(lambda x: o.sum(x) < 100, lambda x: x * 2 + 1,
                                        d["p"][0]),
                           o.saturate_cast(d["f"] * 300, "int8"),
                           o.copy(d["i"]), o.convert_to_tensor(d["i"]),
                           o.convert_to_tensor([1.0, 2.0]), o.real(d["f"]), o.imag(d["f"])]),
]


def _flat(value):
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flat(item)]
    return [np.asarray(value)]


@pytest.mark.parametrize("fn", [c[1] for c in EAGER], ids=[c[0] for c in EAGER])
def test_eager_ops_match_keras_in_values_and_dtypes(keras, rng, fn):
    d = _inputs(rng)
    got, want = _flat(fn(ops, d)), _flat(fn(keras.ops, d))
    assert len(got) == len(want)
    for k, (e, w) in enumerate(zip(got, want)):
        assert e.shape == w.shape, f"result {k}: shape {e.shape} vs Keras {w.shape}"
        assert e.dtype == w.dtype, f"result {k}: dtype {e.dtype} vs Keras {w.dtype}"
        if e.dtype == np.bool_ or np.issubdtype(e.dtype, np.integer):
            np.testing.assert_array_equal(e, w, err_msg=f"result {k}")
        else:
            np.testing.assert_allclose(e, w, rtol=2e-5, atol=2e-5, err_msg=f"result {k}")


def test_namespaces_hold_keras_names(keras):
    for name in ("linalg", "nn", "numpy"):
        ours = {n for n in dir(getattr(ops, name)) if not n.startswith("_")}
        theirs = {n for n in dir(getattr(keras.ops, name)) if not n.startswith("_")}
        assert ours <= theirs, f"ember.ops.{name} has names Keras's lacks: {ours - theirs}"
    assert ops.linalg.inv is ops.inv and ops.nn.one_hot is ops.one_hot


VARIANCE = np.linspace(0.5, 2.0, 8).astype(np.float32)


# Bodies for the custom-layer parity test: (ops, h (batch, 8), b (8,), s (8,)) -> (batch, k).
def _trig_logs(o, h, b, s):
    t = o.tanh(h) * 0.9
    return 0.05 * (o.sin(h) + o.cos(h * s) + o.tan(t) + o.arcsin(t) + o.arccos(t) + o.arctan(h)
            + o.sinh(h) + o.cosh(t) + o.arcsinh(h) + o.arccosh(o.abs(h) + 1.5) + o.arctanh(t)
            + o.log1p(o.abs(h)) + o.expm1(t) + o.log2(o.abs(h) + 1) + o.log10(o.abs(h) + 1)
            + o.exp2(t) + o.erf(h) + o.rsqrt(o.abs(h) + 0.5) + o.cbrt(h + 5.0)
            + o.arctan2(h, o.abs(h) + 2.0) + o.hypot(h, h * 0.5 + 1.0) + o.logaddexp(h, b))


def _rounding_compare(o, h, b, s):
    # Zero gradients through the rounding and the comparisons; the values still count.
    return (o.floor(h * 3) + o.ceil(h * 2) + o.round(h * 3) + o.trunc(h * 3)
            + o.round(h, 1) * h + o.greater(h, s) * h + o.less_equal(h, 0.1) * s
            + o.equal(o.round(h), 0.0) + o.logical_and(h > 0, h < 0.5) * h
            + (o.round(h) == 1.0) * h + (o.round(h) != 0.0) + (h >= 0.2) - (h <= -0.2) * h
            + o.where(h > 0, h * 2, o.square(h)) + o.mod(h, 0.7) + o.floor_divide(h, 0.3) * h
            + o.divide_no_nan(h, o.round(h)) + o.isnan(h) + o.isfinite(h) * h
            + o.stop_gradient(h) * h + o.clip(h, -0.5, 0.5) + o.heaviside(h, 0.5))


def _nn_family(o, h, b, s):
    return (o.log_sigmoid(h) + o.celu(h, 0.7) + o.hard_tanh(h * 2) + o.hard_shrink(h, 0.3)
            + o.soft_shrink(h, 0.3) + o.sparse_plus(h * 2) + o.sparse_sigmoid(h * 2)
            + o.squareplus(h) + o.threshold(h, 0.1, -0.5) + o.tanh_shrink(h)
            + o.concatenate([o.glu(h), o.glu(h)], axis=-1))


def _normalizations(o, h, b, s):
    mean, var = o.moments(h, axes=[1], keepdims=True)
    x3 = o.reshape(h, (-1, 2, 4))
    return (o.layer_normalization(h, s, b) + o.rms_normalization(h, s) + o.normalize(h)
            + o.normalize(h, order=1) + (h - mean) / o.sqrt(var + 1e-3)
            + o.batch_normalization(h, b, VARIANCE, axis=-1, offset=b, scale=s)
            + o.reshape(o.layer_normalization(x3, axis=(1, 2)), (-1, 8))
            + o.logsumexp(h, axis=-1, keepdims=True) + o.norm(h, axis=-1, keepdims=True)
            + o.norm(h, ord=1, axis=-1, keepdims=True))


def _reductions(o, h, b, s):
    x3 = o.reshape(h, (-1, 2, 4))
    return o.concatenate([
        o.cumsum(h, axis=-1), o.cumprod(o.tanh(h), axis=1), o.reshape(o.cumsum(x3, axis=1),
                                                                     (-1, 8)),
        o.prod(x3, axis=-1), o.prod(o.tanh(x3), axis=1), o.amax(x3, axis=2),
        o.amin(h, axis=-1, keepdims=True), o.ptp(x3, axis=2), o.count_nonzero(h > 0, axis=1)[
            :, None] * 0.1, o.any(x3 > 0.5, axis=-1) * o.all(x3 > -1, axis=-1),
        o.average(x3, axis=2, weights=[1.0, 2.0, 3.0, 4.0]),
        o.logsumexp(x3, axis=(1, 2))[:, None]], axis=-1)


def _shapes(o, h, b, s):
    x3 = o.reshape(h, (-1, 2, 4))
    return o.concatenate([
        o.reshape(o.flip(x3, 1), (-1, 8)), o.roll(h, 3, axis=-1),
        o.reshape(o.moveaxis(x3, 1, 2), (-1, 8)), o.reshape(o.swapaxes(x3, 1, 2), (-1, 8)),
        o.reshape(o.tile(x3, (1, 1, 2)), (-1, 16)), o.repeat(h, 2, axis=-1),
        o.reshape(o.tril(x3) + o.triu(x3, 1) * 2, (-1, 8)),
        o.reshape(o.stack([h, h * s], axis=1), (-1, 16)), *o.unstack(x3, axis=1),
        *o.split(h, [3, 5], axis=-1), o.pad(h, ((0, 0), (2, 1)), constant_values=0.5),
        o.reshape(o.pad(x3, ((0, 0), (1, 1), (2, 0)), mode="reflect"), (-1, 24)),
        o.take_along_axis(h, np.array([[3, 1, 1, 7]]), axis=1), o.diff(h, 2),
        o.one_hot(o.floor(o.abs(h[:, :2]) * 2), 3)[:, 0] * h[:, :3],
        o.trace(x3[:, :, :2], axis1=1, axis2=2)[:, None], o.fliplr(h),
        o.reshape(o.extract_sequences(x3, 2, 1), (-1, 12)),
        o.reshape(o.depth_to_space(o.reshape(h, (-1, 1, 2, 4)), 2), (-1, 8)),
        o.reshape(o.space_to_depth(o.reshape(h, (-1, 2, 4, 1)), 2), (-1, 8)),
        o.reshape(o.cdist(x3, o.tanh(x3)), (-1, 4))], axis=-1)


def _einsums(o, h, b, s):
    x3 = o.reshape(h, (-1, 2, 4))
    w = o.reshape(o.tanh(h), (-1, 4, 2))
    return o.concatenate([
        o.reshape(o.einsum("bij,jk->bik", x3, np.arange(12, dtype="float32").reshape(4, 3)),
                  (-1, 6)),
        o.reshape(o.einsum("bij,bjk->bik", x3, w), (-1, 4)),
        o.reshape(o.einsum("bij,bkj->bik", x3, o.tanh(x3)), (-1, 4)),
        o.einsum("bi,i->b", h, s)[:, None], o.einsum("bij->bj", x3),
        o.reshape(o.einsum("bij,j->bji", x3, VARIANCE[:4]), (-1, 8)),
        o.reshape(o.einsum("bi,bj->bij", h[:, :3], h[:, 3:5]), (-1, 6)),
        o.reshape(o.tensordot(x3, np.ones((4, 3), "float32"), axes=1), (-1, 6)),
        o.dot(h, 2.0), o.dot(h, np.linspace(-1, 1, 8).astype("float32"))[:, None]], axis=-1)


BODIES = {f.__name__[1:]: f for f in (_trig_logs, _rounding_compare, _nn_family,
                                      _normalizations, _reductions, _shapes, _einsums)}


@pytest.mark.parametrize("body", sorted(BODIES))
def test_ops_in_a_custom_layer_train_like_keras(keras, rng, body):
    fn = BODIES[body]
    weights = _weights(rng)
    x = rng.normal(0, 1, (32, 6)).astype(np.float32)
    em = _model(ember, make_layer_class(layers.Layer, ops), fn, weights)
    km = _model(keras, make_layer_class(keras.layers.Layer, keras.ops), fn, weights)
    ey, ky = em.predict(x, verbose=0), km.predict(x, verbose=0)
    assert ey.shape == ky.shape
    np.testing.assert_allclose(ey, ky, rtol=2e-5, atol=2e-5)
    y = rng.normal(0, 1, ky.shape).astype(np.float32)
    eh = em.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    kh = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(eh, kh, rtol=2e-5)
    for e, k in zip(em.get_weights(), km.get_weights()):
        assert_weights_close(e, k, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("call, match", [
    (lambda x: ops.argmax(x, axis=-1), "argmax cannot be recorded"),
    (lambda x: ops.sort(x), "sort cannot be recorded"),
    (lambda x: ops.where(x > 0), "where cannot be recorded"),
    (lambda x: ops.unique(x), "unique cannot be recorded"),
    (lambda x: ops.inv(x), "inv cannot be recorded"),
    (lambda x: ops.flip(x, 0), "flip: inside a layer .* batch axis"),
    (lambda x: ops.cumsum(x), "cumsum: axis=None"),
    (lambda x: ops.where(x > 0, x, -np.inf), "where: .* must be finite"),
    (lambda x: ops.cond(ops.sum(x, axis=-1), lambda: x, lambda: x), "cond: its predicate"),
    (lambda x: ops.einsum("bi,bi->i", x, x), "einsum: .* keep the batch axis"),
], ids=["argmax", "sort", "where-nonzero", "unique", "inv", "flip-batch", "cumsum-flat",
        "where-inf", "cond", "einsum-batch"])
def test_ops_without_a_graph_form_name_themselves(call, match):
    inp = ember.Input((4,))
    with pytest.raises((ValueError, NotImplementedError), match=match):
        layers.Lambda(call)(inp)


# Keras cannot build these two inside a functional model (its symbolic forms need a concrete
# batch size), so they are checked against NumPy.
@pytest.mark.parametrize("row, fn, reference", [
    ((1, 4), lambda x: ops.broadcast_to(x, (None, 3, 4)) * 2,
     lambda x: np.broadcast_to(x, (5, 3, 4)) * 2),
    ((3, 4), lambda x: ops.rearrange(x, "b (h1 h) w -> b (w h h1)", h1=3),
     lambda x: x.reshape(5, 3, 1, 4).transpose(0, 3, 2, 1).reshape(5, 12)),
], ids=["broadcast_to", "rearrange"])
def test_index_ops_inside_a_layer_keep_the_batch_axis(rng, row, fn, reference):
    inp = ember.Input(row)
    model = ember.Model(inp, layers.Lambda(fn)(inp))
    x = rng.normal(size=(5,) + row).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reference(x))


def _conv_inputs(rng):
    return {"x1": rng.normal(size=(2, 9, 4)).astype(np.float32),
            "x2": rng.normal(size=(2, 7, 8, 4)).astype(np.float32),
            "k1": rng.normal(size=(3, 4, 6)).astype(np.float32),
            "k2": rng.normal(size=(3, 2, 4, 6)).astype(np.float32),
            "kg": rng.normal(size=(3, 3, 2, 6)).astype(np.float32),
            "kd": rng.normal(size=(3, 3, 4, 2)).astype(np.float32),
            "kp": rng.normal(size=(1, 1, 8, 5)).astype(np.float32),
            "kt": rng.normal(size=(3, 3, 5, 4)).astype(np.float32)}


CONV = [
    ("conv", lambda o, d: [
        o.conv(d["x1"], d["k1"]), o.conv(d["x1"], d["k1"], 2, "same"),
        o.conv(d["x1"], d["k1"], dilation_rate=2, padding="same"),
        o.conv(d["x2"], d["k2"], (2, 1), "same"), o.conv(d["x2"], d["kg"]),
        o.conv(np.moveaxis(d["x2"], -1, 1), d["k2"], 1, "same", "channels_first")]),
    ("depthwise_separable", lambda o, d: [
        o.depthwise_conv(d["x2"], d["kd"]), o.depthwise_conv(d["x2"], d["kd"], 2, "same"),
        o.separable_conv(d["x2"], d["kd"], d["kp"], 1, "same")]),
    ("conv_transpose", lambda o, d: [
        o.conv_transpose(d["x2"], d["kt"]), o.conv_transpose(d["x2"], d["kt"], 2, "same"),
        o.conv_transpose(d["x2"], d["kt"], 2, "valid", output_padding=1),
        o.conv_transpose(d["x2"], d["kt"], (2, 1), "same", dilation_rate=1)]),
    ("pool", lambda o, d: [
        # Keras 3.15's jax pooling needs strides given when pool_size is an int.
        o.max_pool(d["x1"], 2, 2), o.average_pool(d["x1"], 3, 2, "same"),
        o.max_pool(d["x2"], (2, 3), (1, 2), "same"), o.average_pool(d["x2"], 2, 2),
        o.average_pool(d["x2"], 3, 2, "same"),
        o.max_pool(np.moveaxis(d["x2"], -1, 1), 2, 2, data_format="channels_first")]),
    ("unfold_fold", lambda o, d: [
        o.unfold(np.moveaxis(d["x2"], -1, 1), 3),
        o.unfold(np.moveaxis(d["x2"], -1, 1), 2, 2, 1, 2),
        o.fold(o.unfold(np.moveaxis(d["x2"], -1, 1), 3, 1, 1, 2), (7, 8), 3, 1, 1, 2),
        o.fold(d["x2"].reshape(2, -1)[:, :72].reshape(2, 18, 4), (4, 4), 3, 1, 0, 1)]),
    ("adaptive_pool", lambda o, d: [
        o.adaptive_average_pool(d["x1"], 4), o.adaptive_max_pool(d["x1"], 5),
        o.adaptive_average_pool(d["x2"], (3, 5)), o.adaptive_max_pool(d["x2"], (4, 3)),
        o.adaptive_average_pool(np.moveaxis(d["x2"], -1, 1), 2, "channels_first")]),
]


@pytest.mark.parametrize("fn", [c[1] for c in CONV], ids=[c[0] for c in CONV])
def test_eager_convolution_and_pooling_match_keras(keras, rng, fn):
    d = _conv_inputs(rng)
    got, want = _flat(fn(ops, d)), _flat(fn(keras.ops, d))
    for k, (e, w) in enumerate(zip(got, want)):
        assert e.shape == w.shape and e.dtype == w.dtype, f"result {k}: {e.shape} vs {w.shape}"
        np.testing.assert_allclose(e, w, rtol=1e-4, atol=1e-4, err_msg=f"result {k}")


def _conv_layer_class(base, o, rank):
    class ConvBody(base):
        def build(self, input_shape):
            shapes = ({"k": (3, 4, 6), "kt": (3, 5, 4)} if rank == 1 else
                      {"k": (3, 3, 4, 2), "kt": (1, 1, 8, 5)})
            for name, shape in shapes.items():
                setattr(self, name, self.add_weight(shape=shape, name=name))

        def call(self, x):
            if rank == 1:
                a = o.max_pool(o.tanh(o.conv(x, self.k, 1, "same")), 2, 2)
                b = o.conv_transpose(x, self.kt, 2, "same")
                c = o.average_pool(o.conv(x, self.k, 2, "valid", dilation_rate=1), 2, 1, "same")
                d = o.adaptive_max_pool(o.tanh(b), 4) + o.adaptive_average_pool(b, 4)
                return o.concatenate([o.reshape(a, (-1, 24)), o.reshape(b, (-1, 90)),
                                      o.reshape(c, (-1, 24)), o.reshape(d, (-1, 20))], axis=-1)
            a = o.separable_conv(x, self.k, self.kt, 1, "same")
            b = o.average_pool(o.depthwise_conv(x, self.k, 2, "valid"), 2, 1, "same")
            blocks = o.unfold(o.transpose(x, (0, 3, 1, 2)), 3, 1, 1, 2)  # (N, 36, 16)
            c = o.fold(o.tanh(blocks), (7, 8), 3, 1, 1, 2)
            return o.concatenate([o.reshape(a, (-1, 280)), o.reshape(b, (-1, 72)),
                                  o.reshape(blocks, (-1, 576)), o.reshape(c, (-1, 224))],
                                 axis=-1)

    return ConvBody


@pytest.mark.parametrize("rank", [1, 2])
def test_convolution_and_pooling_ops_in_a_layer_train_like_keras(keras, rng, rank):
    shape = (9, 4) if rank == 1 else (7, 8, 4)
    x = rng.normal(size=(16,) + shape).astype(np.float32)
    models = []
    for lib, o in ((ember, ops), (keras, keras.ops)):
        inp = lib.Input(shape)
        model = lib.Model(inp, _conv_layer_class(lib.layers.Layer, o, rank)()(inp))
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.01), loss="mse")
        models.append(model)
    weights = [rng.normal(0, 0.3, w.shape).astype(np.float32) for w in models[1].get_weights()]
    for m in models:
        m.set_weights(weights)
    ey, ky = (m.predict(x, verbose=0) for m in models)
    np.testing.assert_allclose(ey, ky, rtol=2e-5, atol=2e-5)
    y = rng.normal(size=ky.shape).astype(np.float32)
    for m in models:
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for e, k in zip(models[0].get_weights(), models[1].get_weights()):
        assert_weights_close(e, k, rtol=2e-5, atol=2e-5)
