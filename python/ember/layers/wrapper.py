"""Wrapper: Keras's abstract base of layers that take another layer and augment it."""

from ember.layers.layer import Layer


class Wrapper(Layer):
    """Holds `layer` (built with the wrapper's input shape) and serializes it in its config,
    as Keras's Wrapper does. A subclass writes `call()`, calling `self.layer(...)` inside it;
    ember records both into the engine graph."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer type. "
                             "Please ensure wrapped layer is a valid Keras layer.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer._maybe_build(input_shape)
        self.built = True

    def get_config(self):
        from ember.saving import serialization_lib

        return {**super().get_config(),
                "layer": serialization_lib.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ember.saving import serialization_lib

        config = dict(config)
        layer = serialization_lib.deserialize_layer(config.pop("layer"), custom_objects)
        return super().from_config({**config, "layer": layer})

    # Keras's weights files nest the wrapped layer's variables under the attribute's name
    # (`<wrapper>/layer/vars`); the wrapper's own group holds only its own.
    def _saved_children(self):
        return [("layer", self.layer)]

    def _variables_in_saving_order(self):
        own = self._weights
        return [w for w in own if w._layer_trainable] + [w for w in own if not w._layer_trainable]
