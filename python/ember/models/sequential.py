"""`Sequential`: a plain stack of layers, built into a functional graph as soon
as its input shape is known (from an `Input`, an `input_shape=` argument, or
the first data it sees)."""

from ember.layers.core import InputLayer
from ember.layers.layer import KerasTensor, Layer
from ember.models.model import Model


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name, trainable=trainable)
        self._stack = []
        self._input_layer = None
        self._own_calls = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    @staticmethod
    def _default_name():
        return "sequential"

    def add(self, layer, rebuild=True):
        """Appends a layer (or an `Input`) to the stack."""
        if isinstance(layer, KerasTensor) and isinstance(layer._call.layer, InputLayer):
            layer = layer._call.layer
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._stack:
                raise ValueError("An Input can only be the first thing added to a Sequential "
                                 "model.")
            self._input_layer = layer
        elif isinstance(layer, Layer):
            if any(existing.name == layer.name for existing in self._stack):
                raise ValueError(
                    "All layers added to a Sequential model should have unique names. Name "
                    f'"{layer.name}" is already the name of a layer in this model. Update the '
                    "`name` argument to pass a unique name."
                )
            self._stack.append(layer)
        else:
            raise TypeError(
                "Only instances of `keras.Layer` can be added to a Sequential model. "
                f"Received: {layer} (of type {type(layer)})"
            )
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        if rebuild:
            self._maybe_rebuild()
        return layer

    @property
    def layers(self):
        return list(self._stack)

    def _input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.shape
        if self._stack and self._stack[0]._input_shape_arg is not None:
            return self._stack[0]._input_shape_arg
        return None

    def _maybe_rebuild(self, data_shape=None):
        # Forget the calls of an earlier build so layer.output refers to this one.
        for call in self._own_calls:
            if call in call.layer._calls:
                call.layer._calls.remove(call)
        self._own_calls = []
        self._core = None
        shape = self._input_shape() or data_shape
        if shape is None or not self._stack:
            self.built = False
            return
        if self._input_layer is None:
            self._input_layer = InputLayer(shape=shape)
        x = self._input_layer.output_tensor
        for layer in self._stack:
            x = layer(x)
            self._own_calls.append(x._call)
        self._build_graph(self._input_layer.output_tensor, x)
        self._layers = list(self._stack)

    def _ensure_built(self, x):
        if self._core is not None:
            return
        if not self._stack:
            raise ValueError(f"Sequential model {self.name} has no layers.")
        from ember import _data
        sample = _data.to_array(x[0] if isinstance(x, (list, tuple)) and len(x) == 1
                                and hasattr(x[0], "shape") else x, "x")
        self._maybe_rebuild(data_shape=sample.shape[1:])

    def build(self, input_shape=None):
        """Builds the stack for inputs of `input_shape` (batch axis first)."""
        if self._core is None and input_shape is not None:
            self._maybe_rebuild(data_shape=tuple(input_shape)[1:])
        self.built = self._core is not None

    def get_config(self):
        """Keras 3's Sequential config: the layers (the input layer first, once built)
        and `build_input_shape`."""
        from ember.saving import model_config
        return model_config.sequential_get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ember.saving import model_config
        return model_config.sequential_from_config(cls, config, custom_objects)

    def get_build_config(self):
        if self._core is None or self._input_layer is None:
            return None
        return {"input_shape": (self._input_layer.batch_size,) + self._input_layer.shape}

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None and self._core is None:
            self.build(tuple(config["input_shape"]))
