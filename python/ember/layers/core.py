"""Input, InputLayer, Dense and Activation."""

from ember import activations, constraints, initializers, regularizers
from ember.layers.layer import (
    INT_DTYPES,
    KerasTensor,
    Layer,
    _Call,
    deserialize_config_objects,
    is_int_dtype,
    standardize_shape,
    unique_name,
)


class InputLayer(Layer):
    """The placeholder a model's data enters through."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        if sparse or ragged:
            raise ValueError("ember has no sparse or ragged tensors: `sparse` and `ragged` must be "
                             "False or None.")
        if shape is None and batch_shape is None:
            shape = kwargs.pop("input_shape", None)
            if shape is None:
                raise ValueError("You must pass a `shape` argument.")
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], batch_shape[1:]
        super().__init__(name=name or unique_name("input_layer"), **kwargs)
        self.shape = standardize_shape(shape)
        self.batch_size = batch_size
        self.built = True
        # Integer inputs (issue 11) hold int32 ids; every float dtype computes in float32.
        self.dtype = _input_dtype(dtype)
        tensor = KerasTensor((batch_size,) + self.shape, dtype=self.dtype, name=self.name)
        tensor._call = _Call(self, [], [tensor])
        self._calls.append(tensor._call)
        self.output_tensor = tensor

    def compute_output_shape(self, input_shape):
        return (None,) + self.shape

    @classmethod
    def from_config(cls, config):
        # The dtype is the input's (int32 ids, issue 11), not a layer's dtype policy.
        return cls(**config)

    def get_config(self):
        return {"batch_shape": (self.batch_size,) + self.shape, "dtype": self.dtype,
                "sparse": False, "ragged": False, "name": self.name, "optional": False}


def _input_dtype(dtype):
    """An Input's dtype name: one of Keras's integer dtypes (held as int32), else "float32"."""
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict):  # a DTypePolicy config from a file
        dtype = (dtype.get("config") or {}).get("name", "float32")
    name = getattr(dtype, "name", None) or str(dtype)
    if is_int_dtype(name):
        return name
    if name in ("float16", "bfloat16", "float32", "float64"):
        return "float32"
    raise ValueError(f"Input: unsupported dtype {dtype!r}; ember takes float inputs and the "
                     f"integer dtypes {', '.join(INT_DTYPES)} (held as int32).")


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic input of the given per-sample shape, e.g. `Input(shape=(8,))`."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                       name=name)
    return layer.output_tensor


class Dense(Layer):
    """`activation(inputs @ kernel + bias)`: one GEMM with the bias and activation
    fused into a single pass over its output."""

    supports_masking = True  # passes masks on, as Keras's (issue 11)
    _engine_class = "Dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units}"
            )
        for arg, value in (("lora_rank", lora_rank),
                           ("quantization_config", quantization_config)):
            if value is not None:
                raise NotImplementedError(f"Dense: `{arg}` is not supported yet")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if self.activity_regularizer is not None:  # fail here, not when the model is built
            regularizers.engine_factors(self.activity_regularizer, self.name)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known")
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        name="bias", regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        if self.kernel is not None and input_shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Input {input_shape} is incompatible with layer {self.name}: "
                f"expected the last axis to be {self.kernel.shape[0]}."
            )
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                **({"activity_regularizer": regularizers.serialize(self.activity_regularizer)}
                   if self.activity_regularizer is not None else {}),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "quantization_config": None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        deserialize_config_objects(config, ("kernel_initializer", "bias_initializer"),
                                   initializers)
        deserialize_config_objects(config, ("kernel_regularizer", "bias_regularizer",
                                            "activity_regularizer"), regularizers)
        return super().from_config(config)


class Activation(Layer):
    """Applies an activation function to its input."""

    supports_masking = True  # passes masks on, as Keras's (issue 11)
    _engine_class = "Activation"

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Identity(Layer):
    """Returns its input unchanged (a placeholder layer); adds nothing to the engine graph."""

    supports_masking = True
    _engine_class = "Identity"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True


class Lambda(Layer):
    """Wraps a function of `ember.ops` as a layer: `Lambda(lambda x: ops.square(x))`.

    The function runs once, while ember builds the engine graph, and records its
    ops there; training differentiates them like any layer's.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable, got {function!r}")
        if mask is not None:
            raise ValueError("Lambda: ember has no masking; `mask` must be None")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        self.supports_masking = False

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return self._traced_output_shape(input_shape)
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        shape = tuple(self._output_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + shape

    @staticmethod
    def _function_config(fn):
        if getattr(fn, "__name__", None) == "<lambda>":
            import base64
            import marshal

            code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
            return {"class_name": "__lambda__",
                    "config": {"code": code, "defaults": fn.__defaults__, "closure": None}}
        from ember.saving import serialize_keras_object

        return serialize_keras_object(fn)

    def get_config(self):
        config = {**super().get_config(), "function": self._function_config(self.function)}
        if self._output_shape is not None:
            config["output_shape"] = (self._function_config(self._output_shape)
                                      if callable(self._output_shape)
                                      else list(self._output_shape))
        config["arguments"] = dict(self.arguments)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        fn = config.get("function")
        if isinstance(fn, dict) and fn.get("class_name") == "__lambda__":
            raise ValueError(
                "Requested the deserialization of a `Lambda` layer whose `function` is a Python "
                "lambda: that would run arbitrary code stored in the file, which ember does not "
                "do. Define the function with `def`, register it with "
                "@ember.saving.register_keras_serializable(), or pass it in custom_objects.")
        if isinstance(fn, dict):
            from ember.saving import deserialize_keras_object

            config["function"] = deserialize_keras_object(fn, custom_objects=custom_objects)
        elif isinstance(fn, str) and custom_objects and fn in custom_objects:
            config["function"] = custom_objects[fn]
        config.pop("dtype", None)
        return cls(**config)
