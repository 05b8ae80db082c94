"""Loads OpenBLAS (from the scipy-openblas32 wheel) before ember._core.

The compiled module finds the library through its RPATH when both are
installed side by side in site-packages; loading it here first also covers
editable installs and other layouts, since the dynamic loader reuses a library
already loaded under the same soname.
"""

import ctypes
import os
import sys

import scipy_openblas32


def _load():
    if sys.platform.startswith("linux"):
        name = f"lib{scipy_openblas32.get_library()}.so"
    elif sys.platform == "darwin":
        name = f"lib{scipy_openblas32.get_library()}.dylib"
    else:
        return None
    path = os.path.join(scipy_openblas32.get_lib_dir(), name)
    return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL) if os.path.exists(path) else None


_lib = _load()


def corename():
    """The kernel set OpenBLAS chose when it loaded (e.g. "SkylakeX", "Haswell"), or None.

    OpenBLAS picks it from the CPU unless the OPENBLAS_CORETYPE environment
    variable names one; the choice matters: on AVX-512 machines the Haswell
    (AVX2) kernels run SGEMM at about half the speed of the SkylakeX ones.
    """
    fn = getattr(_lib, "scipy_openblas_get_corename", None) if _lib is not None else None
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    return fn().decode()
