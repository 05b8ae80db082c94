"""`get_file`: Keras 3's download cache, shared with Keras.

Files land where Keras puts them (`$KERAS_HOME/<cache_subdir>`, by default
`~/.keras/datasets`) under the same names, so a file Keras downloaded is reused
here and the reverse. Unlike Keras, a download goes to a temporary file that is
checked against its hash and only then renamed into place, an archive is
extracted into a temporary folder renamed when complete, and a failed fetch
raises an OSError that names the URL, the reason and where to put the file by
hand (the usual way out on a machine without internet).
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

from ember.utils.progbar import Progbar, _write

__all__ = ["get_file", "hash_file", "keras_home", "validate_file"]

_CHUNK = 1 << 16
# A stalled connection fails instead of hanging the user's script.
_TIMEOUT_S = 60


def keras_home():
    """`$KERAS_HOME`, else `~/.keras` (where Keras keeps its caches); read on every call
    so a test or a script can point it elsewhere after import."""
    home = os.environ.get("KERAS_HOME")
    if home:
        return home
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = tempfile.gettempdir()
    return os.path.join(base, ".keras")


def _hasher(algorithm, file_hash=None):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None
                                 and len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5()
    raise ValueError(f"`hash_algorithm` must be 'auto', 'sha256' or 'md5', got {algorithm!r}")


def hash_file(fpath, algorithm="sha256", chunk_size=_CHUNK):
    """The hex digest of a file, `"sha256"` or `"md5"`."""
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=_CHUNK):
    """True when the file's hash is `file_hash` (sha256 for a 64-digit hash under "auto",
    md5 otherwise, as Keras decides)."""
    return hash_file(fpath, _hasher(algorithm, file_hash), chunk_size) == str(file_hash)


def _download(origin, target, file_hash, hash_algorithm):
    """Streams `origin` into a temporary file beside `target`, checks its hash and renames
    it over `target`; nothing is left behind on failure."""
    from ember.saving.file_utils import atomic_path

    _write(f"Downloading data from {origin}\n")
    with atomic_path(target) as partial:
        with open(partial, "wb") as out:
            try:
                with urllib.request.urlopen(origin, timeout=_TIMEOUT_S) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    bar = Progbar(total)
                    done = 0
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
                        done += len(chunk)
                        if total is None or done < total:
                            bar.update(done)
                    if total is not None and done != total:
                        raise OSError(f"URL fetch failure on {origin}: the connection closed "
                                      f"after {done} of {total} bytes.")
                    bar.update(done, finalize=True)
            except urllib.error.HTTPError as e:
                raise OSError(f"URL fetch failure on {origin}: HTTP {e.code} {e.reason}. "
                              f"To use a copy fetched elsewhere, put it at {target}.") from e
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                reason = getattr(e, "reason", e)
                raise OSError(f"URL fetch failure on {origin}: {reason}. Is this machine "
                              f"offline? To use a copy fetched elsewhere, put it at "
                              f"{target}.") from e
        if file_hash is not None:
            hasher = _hasher(hash_algorithm, file_hash)
            got = hash_file(partial, hasher)
            if got != str(file_hash):
                raise ValueError(
                    f"Incomplete or corrupted file detected: the {hasher.name} file hash of "
                    f"what {origin} sent, {got}, does not match the expected value of "
                    f"{file_hash}; the download was discarded.")


def _inside(base, name):
    path = os.path.realpath(os.path.join(base, name))
    return os.path.commonpath([path, os.path.realpath(base)]) == os.path.realpath(base)


def _extract(archive_path, destination, archive_format):
    """Extracts a tar or zip archive into `destination` through a temporary folder renamed
    when complete; members that would land outside it are refused. False when the file is
    not an archive of an allowed format."""
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    for kind in formats:
        if kind not in ("tar", "zip"):
            raise ValueError(f"`archive_format` must be 'auto', 'tar', 'zip' or a list of "
                             f"them, got {archive_format!r}")
        if kind == "tar" and tarfile.is_tarfile(archive_path):
            break
        if kind == "zip" and zipfile.is_zipfile(archive_path):
            break
    else:
        return False
    parent = os.path.dirname(destination) or "."
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(destination)}.", dir=parent)
    try:
        if kind == "tar":
            with tarfile.open(archive_path) as archive:
                members = archive.getmembers()
                for m in members:
                    if not _inside(staging, m.name) or m.issym() or m.islnk() and \
                            not _inside(staging, m.linkname):
                        raise ValueError(f"Refusing to extract {archive_path}: member "
                                         f"{m.name!r} would land outside {destination}.")
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(staging, members, filter="data")
                else:
                    archive.extractall(staging, members)
        else:
            with zipfile.ZipFile(archive_path) as archive:
                for name in archive.namelist():
                    if not _inside(staging, name):
                        raise ValueError(f"Refusing to extract {archive_path}: member "
                                         f"{name!r} would land outside {destination}.")
                archive.extractall(staging)
        if os.path.isdir(destination):
            shutil.rmtree(destination)
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """Downloads a file from a URL unless it is already in the cache, and returns its path.

    Same arguments, cache folder and file names as `keras.utils.get_file`: the file is
    `<cache_dir>/<cache_subdir>/<fname>` with `cache_dir` defaulting to `$KERAS_HOME` or
    `~/.keras`. A cached file whose hash does not match is fetched again; a download whose
    hash does not match raises ValueError and leaves nothing behind. With `extract=True`
    the path of the extracted folder is returned.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(os.fspath(cache_dir) if cache_dir is not None else keras_home())
    if not os.access(base, os.W_OK) and os.path.exists(base):
        base = os.path.join(tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    given = os.fspath(fname) if fname is not None else None
    if not given:
        name = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not name:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'. "
                             "Please specify the `fname` argument.")
    else:
        name = given
        if os.sep in name or (os.altsep and os.altsep in name):
            raise ValueError("Paths are no longer accepted as the `fname` argument. To specify "
                             "the file's parent directory, use the `cache_dir` argument. "
                             f"Received: fname={name}")

    # Keras's names for an archive and its extracted folder, so both share one cache.
    extraction_dir = None
    if extract or untar:
        if given and "." in name:
            target = os.path.join(datadir, name)
            extraction_dir = os.path.join(datadir, f"{name[:name.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, name)
            target = os.path.join(datadir, f"{name}_archive")
    else:
        target = os.path.join(datadir, name)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash,
                                                                     hash_algorithm):
        _write(f"A local file was found, but it seems to be incomplete or outdated because "
               f"the {hash_algorithm} file hash does not match the original value of "
               f"{file_hash} so we will re-download the data.\n")
        download = True
    if download:
        _download(origin, target, file_hash, hash_algorithm)

    if extraction_dir is None:
        return target
    if download or not os.path.isdir(extraction_dir):
        if not _extract(target, extraction_dir, "tar" if untar else archive_format):
            warnings.warn(f"Could not extract archive {target}.", stacklevel=2)
    return extraction_dir
