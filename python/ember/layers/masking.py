"""Masking, and the graph helpers layers that read masks build on (issue 11).

A mask in the engine graph is a float value of the masked input's row shape without its
last axis (for a sequence (T, F): (T,)), 1.0 where a step is kept and 0.0 where it is
masked. See `Layer`'s docstring for how layers produce, pass and consume masks.
"""

import numpy as np

from ember import _core
from ember.layers.layer import KerasTensor, Layer


def broadcastable_mask(graph, mask_node, x_row_shape, steps_axis=0, name="mask"):
    """The mask (T,) reshaped to broadcast against a value of row shape x_row_shape whose
    axis `steps_axis` (a row axis) holds the T steps: ones elsewhere, e.g. (T, 1)."""
    shape = [1] * len(x_row_shape)
    shape[steps_axis] = x_row_shape[steps_axis]
    return _core.add_reshape(graph, mask_node, shape, name)


def masked_mean(graph, x_node, mask_node, steps_axis=0, name="masked_mean"):
    """The mean of x over its steps, counting only the kept ones: Keras's masked
    GlobalAveragePooling1D, sum(x * mask, steps) / sum(mask, steps). x: row shape (T, C)
    (steps_axis=0, channels_last) or (C, T) (steps_axis=1); mask: (T,). A row with every
    step masked divides by zero, as Keras's does."""
    row = list(graph.row_shape(x_node))
    mask = broadcastable_mask(graph, mask_node, row, steps_axis, f"{name}/mask")
    kept = _core.add_binary(graph, "multiply", [x_node, mask], None, None, f"{name}/kept")
    total = _core.add_reduce(graph, "sum", kept, [steps_axis], False, f"{name}/sum")
    count = _core.add_reduce(graph, "sum", mask, [steps_axis], False, f"{name}/count")
    return _core.add_binary(graph, "divide", [total, count], None, None, name)


class Masking(Layer):
    """Masks the timesteps whose features all equal `mask_value`: their features become
    0 and the layers downstream that read masks skip them (Keras's Masking)."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def compute_mask(self, inputs, previous_mask=None):
        if isinstance(inputs, KerasTensor):
            return KerasTensor(inputs.shape[:-1], dtype="bool")
        return np.any(np.not_equal(np.asarray(inputs), self.mask_value), axis=-1)

    def _mask_node(self, graph, input_nodes):
        # One mask op per call, shared by _emit and the _emit_mask that follows it. The
        # graph is held (and compared by identity) so a later graph cannot match it.
        last = getattr(self, "_last_mask", None)
        if last is None or last[0] is not graph or last[1] != input_nodes[0]:
            node = _core.add_mask(graph, input_nodes[0], False, float(self.mask_value),
                                  f"{self.name}/mask")
            last = self._last_mask = (graph, input_nodes[0], node)
        return last[2]

    def _emit(self, graph, input_nodes):
        x = input_nodes[0]
        row = list(graph.row_shape(x))
        if not row:
            raise ValueError(f"Masking '{self.name}' needs inputs of rank >= 2 (a batch of "
                             "feature vectors or sequences).")
        # Keras: x * any(x != mask_value, axis=-1, keepdims=True).
        keep = _core.add_reshape(graph, self._mask_node(graph, input_nodes), row[:-1] + [1],
                                 f"{self.name}/keep")
        return _core.add_binary(graph, "multiply", [x, keep], None, None, self.name)

    def _emit_mask(self, graph, input_nodes, mask_nodes):
        mask = self._mask_node(graph, input_nodes)
        self._last_mask = None
        return mask

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
