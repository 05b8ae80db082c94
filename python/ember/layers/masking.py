"""Masking (issue 11); the engine builds it and the masks layers read (layer_builder.h).

A mask in the engine graph is a float value of the masked input's row shape without its
last axis (for a sequence (T, F): (T,)), 1.0 where a step is kept and 0.0 where it is
masked. See `Layer`'s docstring for how layers produce, pass and consume masks.
"""

import numpy as np

from ember.layers.layer import KerasTensor, Layer


class Masking(Layer):
    """Masks the timesteps whose features all equal `mask_value`: their features become
    0 and the layers downstream that read masks skip them (Keras's Masking)."""

    _engine_class = "Masking"
    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def compute_mask(self, inputs, previous_mask=None):
        if isinstance(inputs, KerasTensor):
            return KerasTensor(inputs.shape[:-1], dtype="bool")
        return np.any(np.not_equal(np.asarray(inputs), self.mask_value), axis=-1)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
