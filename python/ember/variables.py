"""`Variable`: a handle on a weight that lives in the C++ engine."""

import numpy as np


class Variable:
    """A model weight: Keras's Variable interface over engine storage.

    The value lives in C++; `numpy()` copies it out and `assign()` copies in
    place (the engine keeps the address), so handles never go stale.
    """

    def __init__(self, core_variable, path):
        self._core = core_variable
        self.path = path

    @property
    def name(self):
        return self._core.name

    @property
    def shape(self):
        return tuple(self._core.shape)

    @property
    def dtype(self):
        return "float32"

    @property
    def trainable(self):
        return self._core.trainable

    @trainable.setter
    def trainable(self, value):
        self._core.trainable = bool(value)

    @property
    def value(self):
        return self.numpy()

    def numpy(self):
        return self._core.numpy()

    def assign(self, value):
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":  # strings of digits are not numbers
            raise TypeError(f"Cannot assign a value of dtype {value.dtype} to variable "
                            f"'{self.path}': it holds numbers.")
        value = value.astype(np.float32, copy=False)
        if value.shape != self.shape:
            raise ValueError(
                f"Cannot assign a value of shape {value.shape} to variable '{self.path}' "
                f"of shape {self.shape}."
            )
        self._core.assign(value)

    def assign_add(self, value):
        self.assign(self.numpy() + np.asarray(value, dtype=np.float32))

    def assign_sub(self, value):
        self.assign(self.numpy() - np.asarray(value, dtype=np.float32))

    # Arithmetic on a variable reads its value (a NumPy array), as Keras's variables do
    # outside a traced function; a graph value on the other side records the op instead.
    def _value_or_not(self, other):
        return None if type(other).__name__ == "GraphTensor" else np.asarray(other)

    def _binary(op, reflected=False):  # noqa: N805 - builds the dunders below
        def method(self, other):
            other = self._value_or_not(other)
            if other is None:
                return NotImplemented
            return op(other, self.numpy()) if reflected else op(self.numpy(), other)
        return method

    __add__, __radd__ = _binary(np.add), _binary(np.add, True)
    __sub__, __rsub__ = _binary(np.subtract), _binary(np.subtract, True)
    __mul__, __rmul__ = _binary(np.multiply), _binary(np.multiply, True)
    __truediv__, __rtruediv__ = _binary(np.divide), _binary(np.divide, True)
    __pow__, __rpow__ = _binary(np.power), _binary(np.power, True)
    del _binary

    def __neg__(self):
        return -self.numpy()

    def __array__(self, dtype=None, copy=None):
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return (
            f"<Variable path={self.path}, shape={self.shape}, dtype=float32, "
            f"value={self.numpy()}>"
        )
