"""`ember.backend`: which engine runs the model, and Keras's numeric constants."""

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
