"""Broadcasting in `ember.ops` inside a layer, against float64 NumPy.

The engine broadcasts from shapes (a stride of 0 along broadcast axes, the batch
axis of a weight included); these check its forward values and the gradient a
broadcast weight receives - the sum over every axis it is broadcast along - on
3-D rows, where the broadcast axes alternate with the kept ones.
"""

import ember
import numpy as np
import pytest
from ember import layers, ops

ROW = (2, 3, 4)  # each sample's shape


class _WeightOp(layers.Layer):
    """y = fn(x, w) for a weight w of a given shape, broadcast against the (None,) + ROW input."""

    def __init__(self, fn, w_shape, **kwargs):
        super().__init__(**kwargs)
        self.fn, self.w_shape = fn, w_shape

    def build(self, input_shape):
        self.w = self.add_weight(shape=self.w_shape, initializer="ones", name="w")

    def call(self, x):
        return self.fn(x, self.w)


# (name, ember.ops form, float64 forward, d out / d w in float64, the weight's shape)
CASES = [
    ("multiply by (3, 1)", lambda x, w: x * w, lambda x, w: x * w, lambda x, w: x, (3, 1)),
    ("add (2, 1, 4)", lambda x, w: ops.add(w, x), lambda x, w: x + w,
     lambda x, w: np.ones_like(x), (2, 1, 4)),
    ("divide (1, 3, 1) by rows", lambda x, w: w / x, lambda x, w: w / x,
     lambda x, w: 1.0 / x + 0.0 * w, (1, 3, 1)),
    ("maximum with (4,)", lambda x, w: ops.maximum(x, w), lambda x, w: np.maximum(x, w),
     lambda x, w: (w > x).astype(np.float64), (4,)),
    ("power of a (2, 1, 1) weight", lambda x, w: ops.power(w, x), lambda x, w: w ** x,
     lambda x, w: x * w ** (x - 1.0), (2, 1, 1)),
]


def _broadcast_sum(grad, shape):
    """Sums a (batch,) + ROW gradient over the axes a weight of `shape` is broadcast along."""
    padded = (1,) * (grad.ndim - len(shape)) + tuple(shape)
    axes = tuple(i for i, (g, w) in enumerate(zip(grad.shape, padded)) if w == 1 and g != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


@pytest.mark.parametrize("name, fn, forward, dout_dw, w_shape", CASES, ids=[c[0] for c in CASES])
def test_a_broadcast_weight_gets_its_forward_and_summed_gradient_like_float64_numpy(
        rng, name, fn, forward, dout_dw, w_shape):
    inp = ember.Input(ROW)
    model = ember.Model(inp, _WeightOp(fn, w_shape)(inp))
    w = rng.uniform(0.5, 1.5, w_shape)
    model.layers[1].set_weights([w.astype(np.float32)])
    # Inputs away from 0 (divide) and from the weight's values (maximum's ties).
    x = rng.uniform(0.2, 2.0, (5,) + ROW) * rng.choice([-1.0, 1.0], (5,) + ROW)
    x = x.astype(np.float32)
    xd, wd = x.astype(np.float64), w.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(model.predict(x, verbose=0), forward(xd, wd), rtol=1e-5, atol=1e-6)

    # One SGD step on mean squared error: the weight moves by lr times its gradient.
    target = rng.normal(size=(5,) + ROW)
    lr = 0.5
    model.compile(ember.optimizers.SGD(learning_rate=lr), loss="mse")
    model.train_on_batch(x, target.astype(np.float32))
    y = forward(xd, wd)
    dloss_dy = 2.0 * (y - target.astype(np.float32)) / y.size
    want = _broadcast_sum(dloss_dy * dout_dw(xd, wd), w_shape)
    got = (wd - model.layers[1].get_weights()[0].astype(np.float64)) / lr
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_a_constant_and_a_reduction_broadcast_on_both_sides_like_float64_numpy(rng):
    c = rng.normal(size=(1, 4)).astype(np.float32)
    inp = ember.Input((3, 1))
    # (None, 3, 1) - (1, 4) -> (None, 3, 4), times the (None, 1, 1) sum of each row.
    out = layers.Lambda(lambda x: ops.subtract(x, c) * ops.sum(x, axis=1, keepdims=True))(inp)
    model = ember.Model(inp, out)
    x = rng.normal(size=(6, 3, 1)).astype(np.float32)
    xd = x.astype(np.float64)
    want = (xd - c) * xd.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


def test_shapes_that_do_not_broadcast_name_both_shapes():
    inp = ember.Input((3, 4))
    with pytest.raises(ValueError, match=r"ember.ops.multiply: shapes \(None, 3, 4\) and "
                                         r"\(None, 4, 3\) cannot be broadcast"):
        layers.Lambda(lambda x: ops.multiply(x, ops.transpose(x, (0, 2, 1))))(inp)
