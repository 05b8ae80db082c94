"""`ember.layers`: Keras's layers, running on the C++ engine."""

from ember.layers.core import Activation, Dense, Input, InputLayer
from ember.layers.layer import KerasTensor, Layer

__all__ = ["Activation", "Dense", "Input", "InputLayer", "KerasTensor", "Layer"]
