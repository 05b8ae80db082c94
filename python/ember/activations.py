"""`ember.activations`: Keras 3's activation functions.

Called on arrays they compute with NumPy in float32, formula for formula as
Keras 3 does on the jax backend. Passed to a layer, by name or as these
functions, they select the engine's kernel, which computes the same values and
the gradients jax's autodiff takes through them.
"""

import numpy as np

_SELU_ALPHA = np.float32(1.6732632423543772848170429916717)
_SELU_SCALE = np.float32(1.0507009873554804934193349852946)


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def _c(value):
    """A Python number as jax uses it against a float32 array: rounded to float32."""
    return np.float32(value)


def _softplus(x):
    # jnp.logaddexp(x, 0): max(x, 0) + log1p(exp(-|x|)), overflow-free.
    return np.maximum(x, _c(0)) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    return _c(1) / (_c(1) + np.exp(-x))


def linear(x):
    """Linear activation function (pass-through): returns the input."""
    return _f32(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: `max(x, 0)` by default.

    `threshold`: values at or below it are damped (set to 0, or to
    `negative_slope * (x - threshold)`); `max_value`: the largest output.
    """
    x = _f32(x)
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return leaky_relu(x, negative_slope=negative_slope)
        negative_part = np.maximum(-x + _c(threshold), _c(0))
    clip_max = max_value is not None
    if threshold != 0:
        y = np.where(x > _c(threshold), x, _c(0))
    elif max_value == 6:
        y = relu6(x)
        clip_max = False
    else:
        y = np.maximum(x, _c(0))
    if clip_max:
        y = np.minimum(np.maximum(y, _c(0)), _c(max_value))
    if negative_slope != 0.0:
        y = y - _c(negative_slope) * negative_part
    return y


def leaky_relu(x, negative_slope=0.2):
    """`x` for `x >= 0`, `negative_slope * x` below."""
    x = _f32(x)
    return np.where(x >= 0, x, _c(negative_slope) * x)


def relu6(x):
    """ReLU capped at 6: `min(max(x, 0), 6)`."""
    return np.minimum(np.maximum(_f32(x), _c(0)), _c(6))


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x))` along `axis` (an int or a tuple of ints)."""
    x = _f32(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    """`log(softmax(x))` along `axis`, computed as `(x - max) - log(sum(exp(x - max)))`."""
    x = _f32(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def elu(x, alpha=1.0):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise."""
    x = _f32(x)
    return np.where(x > 0, x, _c(alpha) * np.expm1(np.minimum(x, _c(0))))


def selu(x):
    """Scaled ELU: `scale * elu(x, alpha)` with `alpha=1.67326324`, `scale=1.05070098`."""
    x = _f32(x)
    return _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, _c(0))))


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: `max(x, 0) + alpha * expm1(min(x, 0) / alpha)`."""
    x = _f32(x)
    a = _c(alpha)
    return np.maximum(x, _c(0)) + a * np.expm1(np.minimum(x, _c(0)) / a)


def softplus(x):
    """`log(exp(x) + 1)`."""
    return _softplus(_f32(x))


def softsign(x):
    """`x / (abs(x) + 1)`."""
    x = _f32(x)
    return x / (np.abs(x) + _c(1))


def squareplus(x, b=4):
    """`(x + sqrt(x^2 + b)) / 2`."""
    x = _f32(x)
    return (x + np.sqrt(np.square(x) + _c(b))) / _c(2)


def soft_shrink(x, threshold=0.5):
    """`x - threshold` above `threshold`, `x + threshold` below `-threshold`, 0 between."""
    x = _f32(x)
    t = _c(threshold)
    return np.where(x > t, x - t, np.where(x < -t, x + t, _c(0)))


def sparse_plus(x):
    """0 for `x <= -1`, `(x + 1)^2 / 4` for `-1 < x < 1`, `x` for `x >= 1`."""
    x = _f32(x)
    return np.where(x <= -1, _c(0), np.where(x >= 1, x, np.square(x + _c(1)) / _c(4)))


def silu(x):
    """Swish / SiLU: `x * sigmoid(x)`."""
    x = _f32(x)
    return x * _sigmoid(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit: `x * P(X <= x)`, X ~ N(0, 1); `approximate` uses
    `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`."""
    x = _f32(x)
    if approximate:
        inner = _c(np.sqrt(2 / np.pi)) * (x + _c(0.044715) * (x * x * x))
        return x * (_c(0.5) * (_c(1) + np.tanh(inner)))
    return _c(0.5) * x * _erfc(-x * _c(np.sqrt(0.5)))


def glu(x, axis=-1):
    """Gated linear unit: `a * sigmoid(b)`, `a` and `b` the two halves of `x` along `axis`."""
    x = _f32(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: the size of axis {axis} must be divisible by 2, got shape "
                         f"{x.shape}")
    a, b = np.split(x, 2, axis=axis)
    return a * _sigmoid(b)


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(_f32(x))


def tanh_shrink(x):
    """`x - tanh(x)`."""
    x = _f32(x)
    return x - np.tanh(x)


def hard_tanh(x):
    """-1 below -1, `x` on [-1, 1], 1 above."""
    x = _f32(x)
    return np.where(x > 1, _c(1), np.where(x < -1, _c(-1), x))


def hard_shrink(x, threshold=0.5):
    """`x` where `|x| > threshold`, 0 elsewhere."""
    x = _f32(x)
    return np.where(np.abs(x) > _c(threshold), x, _c(0))


def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, `default_value` elsewhere."""
    x = _f32(x)
    return np.where(x > _c(threshold), x, _c(default_value))


def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return _sigmoid(_f32(x))


def sparse_sigmoid(x):
    """0 for `x <= -1`, `(x + 1) / 2` for `-1 < x < 1`, 1 for `x >= 1`."""
    x = _f32(x)
    return _c(0.5) * np.minimum(np.maximum(x + _c(1), _c(0)), _c(2))


def exponential(x):
    """`exp(x)`."""
    return np.exp(_f32(x))


def hard_sigmoid(x):
    """Piecewise linear sigmoid: `relu6(x + 3) / 6`."""
    return relu6(_f32(x) + _c(3)) / _c(6)


def log_sigmoid(x):
    """`log(sigmoid(x))`, computed as `-softplus(-x)`."""
    return -_softplus(-_f32(x))


def hard_silu(x):
    """Hard SiLU / hard swish: `x * hard_sigmoid(x)`."""
    x = _f32(x)
    return x * hard_sigmoid(x)


def mish(x):
    """`x * tanh(softplus(x))`."""
    x = _f32(x)
    return x * np.tanh(_softplus(x))


def sparsemax(x, axis=-1):
    """Sparsemax as Keras 3 computes it.

    Keras's threshold sums the cumulative sums over the support,
    `tau = (sum_{i<=k} cumsum_i - 1) / k`, where Martins & Astudillo use the k-th
    cumulative sum alone; ember follows Keras, number for number.
    """
    x = _f32(x)
    ordered = -np.sort(-x, axis=axis)
    cumsum = np.cumsum(ordered, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    r = np.arange(1, x.shape[axis] + 1, dtype=np.float32).reshape(shape)
    support = ordered - (cumsum - _c(1)) / r > 0
    k = support.sum(axis=axis, keepdims=True).astype(np.float32)
    tau = (np.where(support, cumsum, _c(0)).sum(axis=axis, keepdims=True) - _c(1)) / k
    return np.maximum(x - tau, _c(0))


def _erfc(x):
    """Complementary error function of a float32 array, to float32 precision.

    erfc(|x|) = t * exp(-x^2 - 1.26551223 + t * P(t)), t = 1 / (1 + |x| / 2)
    (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere), in
    float64 then rounded; erfc(-x) = 2 - erfc(x).
    """
    x64 = np.asarray(x, dtype=np.float64)
    z = np.abs(x64)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    r = t * np.exp(-z * z + poly)
    return np.where(x64 >= 0, r, 2.0 - r).astype(np.float32)


_FUNCTIONS = {f.__name__: f for f in (
    relu, leaky_relu, relu6, softmax, celu, elu, selu, softplus, softsign, squareplus,
    soft_shrink, sparse_plus, silu, gelu, glu, tanh, tanh_shrink, threshold, sigmoid,
    sparse_sigmoid, exponential, hard_sigmoid, hard_silu, hard_tanh, hard_shrink, linear, mish,
    log_softmax, log_sigmoid, sparsemax)}

# Every name Keras resolves, its two aliases included.
ALL_OBJECTS_DICT = {**_FUNCTIONS, "swish": silu, "hard_swish": hard_silu}
swish = silu
hard_swish = hard_silu


def _unknown(identifier):
    return ValueError(
        f"Could not interpret activation function identifier: {identifier!r}. "
        f"Known activations: {', '.join(sorted(ALL_OBJECTS_DICT))}."
    )


def is_builtin(activation):
    """True for one of these functions (the engine has a fused kernel for it)."""
    name = getattr(activation, "__name__", None)
    return name in _FUNCTIONS and _FUNCTIONS[name] is activation


def serialize(activation):
    """The name of one of these functions, as Keras stores it in a config; a custom
    function (of ember.ops) as Keras serializes any function."""
    if is_builtin(activation):
        return activation.__name__
    if callable(activation) and getattr(activation, "__name__", "<lambda>") != "<lambda>":
        from ember.saving import serialize_keras_object

        return serialize_keras_object(activation)
    raise ValueError(f"Activation function '{activation}' cannot be serialized: a lambda has no "
                     "name to find it by when loading; define it with `def`.")


def emit(graph, node, activation, name):
    """Applies `activation` to a graph node: a built-in through the engine's kernel,
    a custom function by recording its ember.ops."""
    if is_builtin(activation):
        return graph.add_activation(node, activation.__name__, name)
    from ember import _ops as ops

    return ops.record(graph, activation, [ops.GraphTensor(graph, node)],
                      f"{name}: the activation function")


def deserialize(config, custom_objects=None):
    """The function a config names: a name, or Keras's `{"class_name": "function",
    "config": name}` form."""
    if isinstance(config, dict):
        if config.get("class_name") != "function" or not isinstance(config.get("config"), str):
            raise ValueError(f"Could not deserialize activation config: {config!r}")
        registered = config.get("registered_name")
        if registered and registered != config["config"]:
            from ember.saving import get_registered_object

            found = get_registered_object(registered, custom_objects)
            if found is not None:
                return found
        config = config["config"]
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return custom_objects[config]
        if config in ALL_OBJECTS_DICT:
            return ALL_OBJECTS_DICT[config]
        from ember.saving import get_registered_object

        registered = get_registered_object(config, custom_objects)
        if registered is not None:
            return registered
    raise _unknown(config)


def get(identifier):
    """An activation function from a name, a config, a function, or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in ALL_OBJECTS_DICT:
            raise _unknown(identifier)
        return ALL_OBJECTS_DICT[identifier]
    if callable(identifier):
        return identifier
    raise _unknown(identifier)
