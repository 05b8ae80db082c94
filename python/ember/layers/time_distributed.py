"""TimeDistributed: one layer applied to every timestep of a sequence (issue 11)."""

from ember.layers.layer import Layer, emit_layer_call


class TimeDistributed(Layer):
    """Applies `layer` to each step of inputs (batch, T, ...): the layer is built on the
    per-step shape (batch, ...) and its weights are shared by all steps.

    In the engine the steps stay inside each sample's row: ember's ops treat leading row
    axes as more samples (Dense acts on the last axis; convolution and pooling take extra
    leading axes), so the layer's own op runs on the (T, ...) value. Flatten and Reshape
    reshape each step instead. Masks pass through, as in Keras.
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `TimeDistributed` layer with a `keras.layers."
                             f"Layer` instance. Received: {layer}")
        super().__init__(**kwargs)
        self.layer = layer

    @staticmethod
    def _child_shape(input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError("`TimeDistributed` Layer should be passed an `input_shape` with at "
                             f"least 3 dimensions, received: {input_shape}")
        return (input_shape[0],) + input_shape[2:]

    def build(self, input_shape):
        self.layer._maybe_build(self._child_shape(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (child[0], tuple(input_shape)[1]) + tuple(child[1:])

    def _wanted_input_dtype(self, index):
        return self.layer._wanted_input_dtype(index)

    # The engine builds the wrapper from its config (the wrapped layer's included); a wrapped
    # layer with a call() of its own is recorded by Python on the (T, ...) value instead.
    _engine_class = "TimeDistributed"

    def _builds_in_engine(self, **call_kwargs):
        return self.layer._builds_in_engine()

    # What the engine's build of the wrapped layer needs from it: its seed and frozen flag.
    _seed = property(lambda self: getattr(self.layer, "_seed", None))
    _eager_draws = property(lambda self: getattr(self.layer, "_eager_draws", 0))
    _trainable_flag = property(lambda self: getattr(self.layer, "_trainable_flag", None))

    def _emit(self, graph, input_nodes, mask_nodes=None):
        if self._builds_in_engine():
            return super()._emit(graph, input_nodes, mask_nodes)
        x = input_nodes[0]
        row = list(graph.row_shape(x))
        want = [row[0]] + list(self.layer.compute_output_shape((None,) + tuple(row[1:]))[1:])
        inner = self.layer
        outs, multi, _ = emit_layer_call(inner, graph, [x], [inner._wanted_input_dtype(0)])
        if multi or len(outs) != 1:
            raise NotImplementedError(f"TimeDistributed '{self.name}': the layer "
                                      f"'{inner.name}' returns several outputs")
        got = list(graph.row_shape(outs[0]))
        if got != want:
            raise NotImplementedError(
                f"TimeDistributed '{self.name}': {type(inner).__name__} '{inner.name}' does not "
                f"act on each timestep of a (T, ...) value in the engine yet (it gave rows of "
                f"shape {tuple(got)}, each step needs {tuple(want)})")
        return outs[0]

    def _engine_config(self):
        config = self.get_config()
        config["layer"] = {**config["layer"], "config": self.layer._engine_config()}
        return config

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
    # (`time_distributed/layer/vars`); the wrapper's own group holds none.
    def _saved_children(self):
        return [("layer", self.layer)]

    def _variables_in_saving_order(self):
        return []
