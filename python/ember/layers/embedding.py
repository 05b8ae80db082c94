"""Embedding: rows of a table looked up by integer token ids (issue 11)."""

import warnings

import numpy as np

from ember import constraints, initializers, regularizers
from ember.layers.layer import KerasTensor, Layer


class Embedding(Layer):
    """`embeddings[ids]`: ids (batch, ...) -> (batch, ..., output_dim).

    The ids reach the engine as int32 (an `Input(dtype="int32")` carries them bit-exact;
    float ids are truncated to int32, as Keras casts them). An id outside [0, input_dim)
    raises ValueError naming it and its position. The gradient is a scatter-add into the
    rows the batch used. `mask_zero=True` masks the steps whose id is 0.
    """

    _engine_class = "Embedding"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 activity_regularizer=None, **kwargs):
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value} "
                                 f"(of type {type(value).__name__}).")
        if input_dim >= 2**31:
            raise ValueError(f"`input_dim` must be below 2**31 (ids are int32), got {input_dim}.")
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=2)
        for arg, value in (("lora_rank", lora_rank), ("quantization_config", quantization_config)):
            if value is not None:
                raise NotImplementedError(f"Embedding: `{arg}` is not supported yet")
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if self.activity_regularizer is not None:
            regularizers.engine_factors(self.activity_regularizer, self.name)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero  # as Keras's
        self.embeddings = None
        if weights is not None:
            self.build()
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1
                             else [weights])

    def build(self, input_shape=None):
        if self.embeddings is None:
            self.embeddings = self.add_weight(
                shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
                name="embeddings", regularizer=self.embeddings_regularizer,
                constraint=self.embeddings_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, previous_mask=None):
        if not self.mask_zero:
            return None
        if isinstance(inputs, KerasTensor):
            return KerasTensor(inputs.shape, dtype="bool")
        return np.not_equal(np.asarray(inputs), 0)

    def _wanted_input_dtype(self, index):
        return "int32"

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero,
                "quantization_config": None}
