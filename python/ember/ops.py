"""`ember.ops`: Keras 3's operations, for custom layers, `Lambda` and activations.

They work in two worlds, like `keras.ops`:

* On arrays (NumPy arrays, lists, numbers, Variables) they compute at once,
  with NumPy in float32, and return NumPy arrays.
* On the values a layer's `call()` receives while ember builds its engine graph
  (a `GraphTensor`: shape `(None, ...)`, the batch axis first) they record ops
  into that graph. Forward and backward then run in C++ with the rest of the
  model, so a custom layer needs no gradient code: the engine differentiates
  every op as jax does.

Inside a graph, weights (`self.add_weight(...)`) and constants are operands
that every sample reads, broadcast as NumPy broadcasts; the batch axis itself
cannot be reduced, transposed, indexed or concatenated along.
"""

# The implementation lives in ember._ops; this module holds only Keras's public names
# (and GraphTensor, the type a layer's call() receives), as `keras.ops` does.
from ember._ops import (  # noqa: A004  (Keras's names: abs, max, min, sum)
    GraphTensor,
    abs,
    absolute,
    add,
    cast,
    clip,
    concatenate,
    convert_to_numpy,
    convert_to_tensor,
    divide,
    dot,
    elu,
    exp,
    expand_dims,
    gelu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    leaky_relu,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mish,
    multiply,
    negative,
    ones,
    ones_like,
    power,
    reciprocal,
    relu,
    relu6,
    reshape,
    selu,
    shape,
    sigmoid,
    sign,
    silu,
    softmax,
    softplus,
    softsign,
    sqrt,
    square,
    squeeze,
    std,
    subtract,
    sum,
    swish,
    take,
    tanh,
    transpose,
    true_divide,
    var,
    zeros,
    zeros_like,
)

__all__ = ["GraphTensor", "abs", "absolute", "add", "cast", "clip", "concatenate",
           "convert_to_numpy", "convert_to_tensor", "divide", "dot", "elu", "exp", "expand_dims",
           "gelu", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu", "log", "log_softmax",
           "matmul", "max", "maximum", "mean", "min", "minimum", "mish", "multiply", "negative",
           "ones", "ones_like", "power", "reciprocal", "relu", "relu6", "reshape", "selu",
           "shape", "sigmoid", "sign", "silu", "softmax", "softplus", "softsign", "sqrt",
           "square", "squeeze", "std", "subtract", "sum", "swish", "take", "tanh", "transpose",
           "true_divide", "var", "zeros", "zeros_like"]
