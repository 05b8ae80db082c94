"""Writing files so that a failed save never costs the previous one, and opening
them with errors that say what is wrong."""

import contextlib
import mmap
import os
import re
import secrets
import stat
import time
import zipfile

# A save's temporary file: ".<name>.<random>.ember-tmp" beside the target.
_TMP_SUFFIX = ".ember-tmp"
# A temporary file of ours older than this belongs to a save that was killed (a live
# save renames or removes its own within the call).
STALE_TMP_SECONDS = 3600.0


def _temporary_name(target):
    return os.path.join(os.path.dirname(target),
                        f".{os.path.basename(target)}.{secrets.token_hex(4)}{_TMP_SUFFIX}")


def remove_stale_temporaries(folder, max_age=STALE_TMP_SECONDS):
    """Removes temporary files that ember's killed saves left in `folder` (named
    ".<file>.<8 hex digits>.ember-tmp" and not touched for `max_age` seconds)."""
    pattern = re.compile(r"\..+\.[0-9a-f]{8}" + re.escape(_TMP_SUFFIX) + "$")
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not pattern.match(entry.name):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and now - info.st_mtime > max_age:
                    os.remove(entry.path)


def _mode_for(target):
    """The mode a saved file gets: an existing file's own, else what the umask gives a
    new file (0o666 & ~umask), as Keras's plain open() does."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(filepath, create_folder=False):
    """Yields a temporary path in `filepath`'s folder; when the block succeeds the
    file is flushed to disk and renamed over `filepath` in one step, and when it
    fails the temporary file is removed. A crash mid-save leaves any earlier file
    at `filepath` as it was (and its temporary file, which the next save to the
    folder removes once it is an hour old).

    As Keras's saves: a missing folder is created (`create_folder`: Keras's `.h5` and
    `.weights.h5` saves) or raises FileNotFoundError (its `.keras`), a folder or file
    that cannot be written PermissionError, each naming `filepath`; a symlink is
    written through (its target is replaced, the link stays); the file's mode is
    the umask's for a new file and the old file's for an overwritten one."""
    filepath = os.fspath(filepath)
    target = os.path.realpath(filepath)  # through symlinks: the link itself stays
    folder = os.path.dirname(target)
    if create_folder and not os.path.isdir(folder):
        os.makedirs(folder, exist_ok=True)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save to '{filepath}': the folder "
                                f"'{os.path.dirname(os.path.abspath(filepath))}' does not exist.")
    if os.path.isdir(target):
        raise IsADirectoryError(f"Cannot save to '{filepath}': it is a folder.")
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise PermissionError(f"Cannot save to '{filepath}': the file is read-only.")
    remove_stale_temporaries(folder)
    mode = _mode_for(target)
    tmp = _temporary_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except PermissionError:
        raise PermissionError(f"Cannot save to '{filepath}': no permission to write in "
                              f"'{folder}'.") from None
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError) and tmp in str(e):  # the user knows their path, not ours
            raise _with_path(e, str(e).replace(tmp, filepath)) from e
        raise
    _fsync_folder(folder)


def _with_path(error, message):
    try:
        return type(error)(error.errno, message) if error.errno else type(error)(message)
    except Exception:
        return OSError(message)


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
    with open(filepath, "rb") as f, contextlib.suppress(ValueError), \
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:  # ValueError: empty
        check_global_heaps(data, filepath)
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


# An HDF5 global heap collection ("GCOL", version 1, 3 reserved bytes, its size) holds
# the file's variable-length data - every string attribute ember and Keras write.
_GCOL = re.compile(rb"GCOL\x01\x00\x00\x00", re.DOTALL)


def check_global_heaps(data, filepath):
    """Raises OSError for a global heap collection that libhdf5 would read forever.

    libhdf5 (H5HG__cache_heap_deserialize, up to 2.0 at least) walks a collection's
    objects by their sizes; an object of index 0 (free space) and size 0 does not
    advance the walk, and reading any string attribute stored there never returns
    (Keras hangs on such a file too). This walks every collection in the file the
    same way first - lengths of 8 bytes, as h5py writes them - and stops at that
    object. Anything else wrong with a collection libhdf5 reports itself."""
    for match in _GCOL.finditer(data):
        start = match.start()
        size = int.from_bytes(data[start + 8:start + 16], "little")
        end = start + size
        if size < 4096 or end > len(data):
            continue  # libhdf5 refuses these collections with an error of its own
        at = start + 16
        while at + 16 <= end:
            index = int.from_bytes(data[at:at + 2], "little")
            length = int.from_bytes(data[at + 8:at + 16], "little")
            step = length if index == 0 else 16 + (length + 7) // 8 * 8
            if step == 0:
                raise OSError(f"Cannot read '{filepath}': it is damaged (the HDF5 global heap "
                              f"at byte {start} has an object of size 0 at byte {at}, which "
                              "libhdf5 would read forever).")
            at += step


def stored_values(group):
    """How many values the datasets under an h5py group hold: a bound on the weights a
    config loaded with them may ask for."""
    import h5py

    total = 0

    def count(_, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            total += obj.size or 0

    group.visititems(count)
    return total
