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
