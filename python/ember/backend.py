"""`ember.backend`: which engine runs the model, and Keras's numeric constants."""

import gc

from ember import _core


def backend():
    """The backend name: "cpu" (the C++ engine; "cuda" once the GPU backend runs models)."""
    return "cpu"


def epsilon():
    """The fuzz factor used in numeric expressions (Keras's default, 1e-7)."""
    return 1e-7


def floatx():
    """The default float type: ember computes in float32."""
    return "float32"


def cuda_available():
    """True when ember was built with CUDA and a device is visible."""
    return _core.cuda_built() and _core.cuda_device_count() > 0


def clear_session(free_memory=True):
    """Forgets the names given so far (the next Dense is "dense" again), as Keras's global
    state reset does; with `free_memory`, also runs Python's garbage collector. Models
    already built keep working."""
    from ember.layers import layer

    layer._uids.clear()
    if free_memory:
        gc.collect()


def is_keras_tensor(x):
    """True for a symbolic tensor (what `ember.Input` and layer calls on it return)."""
    from ember.layers.layer import KerasTensor

    return isinstance(x, KerasTensor)
