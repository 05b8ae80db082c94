"""Writing files so that a failed save never costs the previous one, and opening
them with errors that say what is wrong."""

import contextlib
import os
import tempfile
import zipfile


@contextlib.contextmanager
def atomic_path(filepath):
    """Yields a temporary path in `filepath`'s folder; when the block succeeds the
    file is flushed to disk and renamed over `filepath` in one step, and when it
    fails the temporary file is removed. A crash mid-save leaves any earlier file
    at `filepath` as it was."""
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(filepath) + ".", suffix=".tmp",
                               dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    # Makes the rename itself durable; not every platform can open a folder.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def ask_to_proceed_with_overwrite(filepath):
    """Asks on the terminal, as Keras does for `overwrite=False`."""
    answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True


def check_exists(filepath):
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such file: '{filepath}'.")
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"Expected a file but '{filepath}' is a folder.")


def open_h5(filepath, what):
    """Opens an HDF5 file for reading; a missing, truncated or non-HDF5 file raises an
    OSError naming the file and what was expected."""
    import h5py

    filepath = os.fspath(filepath)
    check_exists(filepath)
    try:
        return h5py.File(filepath, "r")
    except OSError as e:
        raise OSError(f"Cannot read '{filepath}' as {what}: it is not a readable HDF5 file "
                      f"(truncated, or not HDF5 at all). h5py said: {e}") from None


def open_zip(filepath):
    """Opens a `.keras` archive; a missing, truncated or non-zip file raises an
    OSError naming the file."""
    filepath = os.fspath(filepath)
    check_exists(filepath)
    try:
        return zipfile.ZipFile(filepath, "r")
    except zipfile.BadZipFile as e:
        raise OSError(f"Cannot read '{filepath}' as a .keras file: it is not a readable zip "
                      f"archive (truncated, or not a .keras file at all). zipfile said: {e}"
                      ) from None
