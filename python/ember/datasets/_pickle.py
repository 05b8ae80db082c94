"""Reading the pickled parts of Keras's data files without running arbitrary code.

imdb.npz and reuters.npz hold object arrays (lists of word indices) and the CIFAR
batches are pickled dicts; a plain unpickler would execute whatever a tampered
file names, so only NumPy's array reconstruction is allowed.
"""

import io
import pickle
import zipfile

import numpy as np

_ALLOWED = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
})


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"Refusing to load `{module}.{name}` from a data set file: the file is corrupted "
            "or was tampered with.")


def _read_member(buffer):
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:  # an object array: its payload is a pickle after the header
        buffer.seek(0)
        major, _ = np.lib.format.read_magic(buffer)
        if major == 1:
            np.lib.format.read_array_header_1_0(buffer)
        elif major in (2, 3):
            np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ValueError(f"Unsupported .npy format version {major}.") from None
        return RestrictedUnpickler(buffer).load()


def load_npz(path):
    """The arrays of an .npz file by name, object arrays included."""
    with zipfile.ZipFile(path) as archive:
        return {member[:-4]: _read_member(io.BytesIO(archive.read(member)))
                for member in archive.namelist() if member.endswith(".npy")}
