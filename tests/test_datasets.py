"""`ember.datasets` and `ember.utils.get_file` against Keras 3's, offline.

Small files in each data set's real format are made fresh per test and served by
an HTTP server on 127.0.0.1 standing in for the origin. A loader's own origin and
hash are swapped for the local URL and the made file's hash (the real files cannot
be fetched here); everything else - cache names, parsing, shuffling, the text
sets' options - runs as in use, and Keras's loaders read the same files from the
same cache for comparison.
"""

import contextlib
import gzip
import hashlib
import http.server
import io
import json
import os
import pickle
import tarfile
import threading

import ember
import numpy as np
import pytest


# -- a stand-in origin --------------------------------------------------------------
@contextlib.contextmanager
def serve_files(files):
    """Serves `files` (name -> bytes) on 127.0.0.1; yields the base URL and a list of the
    paths requested. Shut down when the block ends."""
    requested = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.lstrip("/")
            requested.append(name)
            if name not in files:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(files[name])))
            self.end_headers()
            self.wfile.write(files[name])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url(name):
    """A URL on 127.0.0.1 where nothing listens: a fetch fails at once, as offline."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def redirect(module, monkeypatch, base_url, files):
    """Points `module.get_file` at the local origin, expecting the made files' hashes."""
    real = module.get_file

    def get_file(fname=None, origin=None, **kwargs):
        name = origin.rsplit("/", 1)[1]
        if kwargs.get("file_hash"):
            kwargs["file_hash"] = sha256(files[name])
        return real(fname, base_url + name, **kwargs)

    monkeypatch.setattr(module, "get_file", get_file)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh KERAS_HOME, shared by ember and (when imported) Keras."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def keras_on_cache(keras, cache, monkeypatch):
    """Keras 3 reading and writing the same cache folder (Keras reads KERAS_HOME at import)."""
    from keras.src.backend import config
    monkeypatch.setattr(config, "_KERAS_DIR", str(cache))
    return keras


# -- files in Keras's formats ---------------------------------------------------------
def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def sequences(rng, n, vocabulary=60, longest=30):
    out = np.empty(n, dtype="object")
    out[:] = [rng.integers(1, vocabulary, size=rng.integers(1, longest)).tolist()
              for _ in range(n)]
    return out


def idx_bytes(array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def cifar_pickle(rng, n, label_keys):
    d = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)}
    for key, classes in label_keys.items():
        d[key.encode()] = [int(v) for v in rng.integers(0, classes, size=n)]
    return pickle.dumps(d, protocol=4), d


def assert_same(ours, theirs):
    """Equal results: same structure, dtypes, shapes and values (object arrays by list)."""
    (ox, oy), (otx, oty) = ours
    (kx, ky), (ktx, kty) = theirs
    for a, b in ((ox, kx), (oy, ky), (otx, ktx), (oty, kty)):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == object:
            assert [list(s) for s in a] == [list(s) for s in b]
        else:
            np.testing.assert_array_equal(a, b)


# -- get_file ---------------------------------------------------------------------------
def test_get_file_downloads_verifies_and_caches_where_keras_does(cache, rng, capsys):
    data = rng.bytes(200_000)
    with serve_files({"blob.bin": data}) as (url, requested):
        path = ember.utils.get_file("blob.bin", url + "blob.bin", file_hash=sha256(data))
        assert path == str(cache / "datasets" / "blob.bin")
        assert open(path, "rb").read() == data
        assert "Downloading data from" in capsys.readouterr().out
        # Cached and valid: no second request.
        assert ember.utils.get_file("blob.bin", url + "blob.bin", file_hash=sha256(data)) == path
        assert requested == ["blob.bin"]
        # A damaged cached file is fetched again.
        with open(path, "r+b") as f:
            f.write(b"garbage")
        ember.utils.get_file("blob.bin", url + "blob.bin", file_hash=sha256(data))
        assert requested == ["blob.bin", "blob.bin"]
        assert open(path, "rb").read() == data
    assert not [f for f in os.listdir(cache / "datasets") if f != "blob.bin"]


def test_get_file_refuses_a_wrong_hash_and_leaves_nothing(cache, rng):
    data = rng.bytes(5000)
    wrong = sha256(data + b"x")
    with serve_files({"f.npz": data}) as (url, _):
        with pytest.raises(ValueError, match="file hash of .* does not match"):
            ember.utils.get_file("f.npz", url + "f.npz", file_hash=wrong)
        # 32 hex digits: md5, as Keras decides.
        with pytest.raises(ValueError, match="md5 file hash of .* does not match"):
            ember.utils.get_file("g.npz", url + "f.npz", md5_hash="0" * 32)
    assert os.listdir(cache / "datasets") == []


def test_get_file_offline_fails_with_a_clear_error(cache):
    url = closed_port_url("mnist.npz")
    with pytest.raises(OSError, match=r"URL fetch failure on .*mnist\.npz.*offline.*put it at"):
        ember.datasets.mnist.get_file("mnist.npz", url)
    with serve_files({}) as (base, _):
        with pytest.raises(OSError, match="HTTP 404"):
            ember.utils.get_file("missing.npz", base + "missing.npz")
    assert os.listdir(cache / "datasets") == []


def test_get_file_arguments_are_checked(cache):
    with pytest.raises(ValueError, match="origin"):
        ember.utils.get_file("x.npz")
    with pytest.raises(ValueError, match="cache_dir"):
        ember.utils.get_file("sub/x.npz", "http://127.0.0.1:1/x.npz")


def test_a_file_keras_downloaded_is_reused_and_the_reverse(keras_on_cache, cache, rng):
    keras = keras_on_cache
    ours, theirs = rng.bytes(3000), rng.bytes(3000)
    with serve_files({"a.bin": ours, "b.bin": theirs}) as (url, _):
        ember.utils.get_file("a.bin", url + "a.bin", file_hash=sha256(ours))
        keras.utils.get_file("b.bin", url + "b.bin", file_hash=sha256(theirs))
    # The origin is gone: each must find the other's file in the shared cache.
    assert keras.utils.get_file("a.bin", closed_port_url("a.bin"), file_hash=sha256(ours)) \
        == str(cache / "datasets" / "a.bin")
    assert ember.utils.get_file("b.bin", closed_port_url("b.bin"), file_hash=sha256(theirs)) \
        == str(cache / "datasets" / "b.bin")


def test_get_file_extracts_archives_where_keras_does(keras_on_cache, cache, rng):
    keras = keras_on_cache
    payload = rng.bytes(1000)
    archive = tar_gz({"folder/data.bin": payload})
    with serve_files({"arch.tar.gz": archive}) as (url, _):
        path = ember.utils.get_file("arch-target", url + "arch.tar.gz", extract=True,
                                    file_hash=sha256(archive))
        assert path == str(cache / "datasets" / "arch-target")
        assert open(os.path.join(path, "folder", "data.bin"), "rb").read() == payload
        assert keras.utils.get_file("arch-target", url + "arch.tar.gz", extract=True,
                                    file_hash=sha256(archive)) == path
    evil = tar_gz({"../escape.bin": b"x"})
    with serve_files({"evil.tar.gz": evil}) as (url, _):
        with pytest.raises(ValueError, match="outside"):
            ember.utils.get_file("evil-target", url + "evil.tar.gz", extract=True)
    assert not (cache / "datasets" / "escape.bin").exists()


# -- the loaders, against Keras's on the same files ---------------------------------------
def test_mnist_and_the_regression_sets_match_keras(keras_on_cache, monkeypatch, rng):
    keras = keras_on_cache
    from keras.src.datasets import boston_housing, california_housing, mnist
    files = {
        "mnist.npz": npz_bytes(
            x_train=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
            y_train=rng.integers(0, 10, 50, dtype=np.uint8),
            x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
            y_test=rng.integers(0, 10, 20, dtype=np.uint8)),
        "boston_housing.npz": npz_bytes(x=rng.normal(size=(41, 13)), y=rng.normal(size=41)),
        "california_housing.npz": npz_bytes(x=rng.normal(size=(650, 8)).astype("float32"),
                                            y=rng.normal(size=650).astype("float32")),
    }
    with serve_files(files) as (url, _):
        for module in (ember.datasets.mnist, ember.datasets.boston_housing,
                       ember.datasets.california_housing, mnist, boston_housing,
                       california_housing):
            redirect(module, monkeypatch, url, files)
        ours = ember.datasets.mnist.load_data()
        assert ours[0][0].shape == (50, 28, 28) and ours[0][0].dtype == np.uint8
        assert_same(ours, keras.datasets.mnist.load_data())
        for kwargs in ({}, {"test_split": 0.3, "seed": int(rng.integers(1000))}):
            assert_same(ember.datasets.boston_housing.load_data(**kwargs),
                        keras.datasets.boston_housing.load_data(**kwargs))
        for kwargs in ({}, {"version": "small", "test_split": 0.1}):
            assert_same(ember.datasets.california_housing.load_data(**kwargs),
                        keras.datasets.california_housing.load_data(**kwargs))
    with pytest.raises(ValueError, match="test_split"):
        ember.datasets.boston_housing.load_data(test_split=1.0)
    with pytest.raises(ValueError, match="version"):
        ember.datasets.california_housing.load_data(version="medium")


def test_fashion_mnist_matches_keras(keras_on_cache, cache, monkeypatch, rng):
    keras = keras_on_cache
    from keras.src.datasets import fashion_mnist
    images = {n: rng.integers(0, 256, (n, 28, 28)) for n in (30, 12)}
    labels = {n: rng.integers(0, 10, n) for n in (30, 12)}
    files = {"train-labels-idx1-ubyte.gz": idx_bytes(labels[30], 2049),
             "train-images-idx3-ubyte.gz": idx_bytes(images[30], 2051),
             "t10k-labels-idx1-ubyte.gz": idx_bytes(labels[12], 2049),
             "t10k-images-idx3-ubyte.gz": idx_bytes(images[12], 2051)}
    with serve_files(files) as (url, _):
        for module in (ember.datasets.fashion_mnist, fashion_mnist):
            redirect(module, monkeypatch, url, files)
        ours = ember.datasets.fashion_mnist.load_data()
    assert (cache / "datasets" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    np.testing.assert_array_equal(ours[0][0], images[30])
    assert_same(ours, keras.datasets.fashion_mnist.load_data())  # from the cache alone


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(keras_on_cache, monkeypatch, rng, label_mode):
    keras = keras_on_cache
    from keras.src.datasets import cifar100
    train, _ = cifar_pickle(rng, 40, {"fine_labels": 100, "coarse_labels": 20})
    test, _ = cifar_pickle(rng, 10, {"fine_labels": 100, "coarse_labels": 20})
    files = {"cifar-100-python.tar.gz": tar_gz({"cifar-100-python/train": train,
                                                "cifar-100-python/test": test})}
    with serve_files(files) as (url, _):
        for module in (ember.datasets.cifar100, cifar100):
            redirect(module, monkeypatch, url, files)
        ours = ember.datasets.cifar100.load_data(label_mode)
        assert ours[0][0].shape == (40, 32, 32, 3) and ours[0][1].shape == (40, 1)
        assert_same(ours, keras.datasets.cifar100.load_data(label_mode))
    with pytest.raises(ValueError, match="label_mode"):
        ember.datasets.cifar100.load_data("medium")


def test_cifar10_reads_the_five_batches_channels_last(cache, monkeypatch, rng):
    # Keras's loader assumes 10,000 images per batch, too many to make here: checked
    # against the arrays written instead.
    members, parts = {}, []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, d = cifar_pickle(rng, 7, {"labels": 10})
        members[f"cifar-10-batches-py/{name}"] = data
        parts.append(d)
    files = {"cifar-10-python.tar.gz": tar_gz(members)}
    with serve_files(files) as (url, _):
        redirect(ember.datasets.cifar10, monkeypatch, url, files)
        (x, y), (xt, yt) = ember.datasets.cifar10.load_data()
    assert (cache / "datasets" / "cifar-10-batches-py-target_archive").exists()
    expected = np.concatenate([d[b"data"] for d in parts[:5]]).reshape(35, 3, 32, 32)
    np.testing.assert_array_equal(x, expected.transpose(0, 2, 3, 1))
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    assert y.shape == (35, 1) and xt.shape == (7, 32, 32, 3) and yt.shape == (7, 1)
    np.testing.assert_array_equal(yt[:, 0], parts[5][b"labels"])


TEXT_OPTIONS = [
    {},
    {"num_words": 25, "skip_top": 4},
    {"maxlen": 20, "index_from": 1},
    {"num_words": 30, "oov_char": None, "start_char": None, "index_from": 0},
    {"seed": 7, "skip_top": 2, "oov_char": None},
]


@pytest.mark.parametrize("options", TEXT_OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_imdb_and_reuters_options_match_keras(keras_on_cache, monkeypatch, rng, options):
    keras = keras_on_cache
    from keras.src.datasets import imdb, reuters
    files = {
        "imdb.npz": npz_bytes(x_train=sequences(rng, 40), y_train=rng.integers(0, 2, 40),
                              x_test=sequences(rng, 30), y_test=rng.integers(0, 2, 30)),
        "reuters.npz": npz_bytes(x=sequences(rng, 50), y=rng.integers(0, 46, 50)),
        "imdb_word_index.json": json.dumps({"the": 1, "movie": 2}).encode(),
        "reuters_word_index.json": json.dumps({"said": 1, "cts": 2}).encode(),
    }
    with serve_files(files) as (url, _):
        for module in (ember.datasets.imdb, ember.datasets.reuters, imdb, reuters):
            redirect(module, monkeypatch, url, files)
        assert_same(ember.datasets.imdb.load_data(**options),
                    keras.datasets.imdb.load_data(**options))
        assert_same(ember.datasets.reuters.load_data(test_split=0.3, **options),
                    keras.datasets.reuters.load_data(test_split=0.3, **options))
        assert ember.datasets.imdb.get_word_index() == keras.datasets.imdb.get_word_index()
        assert ember.datasets.reuters.get_word_index() == {"said": 1, "cts": 2}
    assert ember.datasets.reuters.get_label_names() == keras.datasets.reuters.get_label_names()


def test_a_tampered_object_array_is_refused(cache, monkeypatch, rng):
    class Payload:  # what a malicious pickle would name instead of NumPy's arrays
        def __reduce__(self):
            return (os.getcwd, ())

    bad = np.empty(2, dtype="object")
    bad[:] = [[1, 2], Payload()]
    files = {"imdb.npz": npz_bytes(x_train=bad, y_train=np.zeros(2), x_test=bad,
                                   y_test=np.zeros(2))}
    with serve_files(files) as (url, _):
        redirect(ember.datasets.imdb, monkeypatch, url, files)
        with pytest.raises(pickle.UnpicklingError, match="Refusing"):
            ember.datasets.imdb.load_data()


def test_keras_mnist_example_runs_with_one_import_changed(cache, monkeypatch, rng):
    """examples/mnist_mlp.py is Keras's MNIST MLP with `import ember as keras`."""
    import runpy
    files = {"mnist.npz": npz_bytes(
        x_train=rng.integers(0, 256, (256, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 256, dtype=np.uint8),
        x_test=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 64, dtype=np.uint8))}
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "mnist_mlp.py")
    with open(example) as f:
        code = f.read().split('"""', 2)[2]  # after the docstring
    # One line mentions ember: the import that replaced `import keras`.
    assert [line for line in code.splitlines() if "ember" in line] == \
        ["import ember as keras  # was: import keras"]
    with serve_files(files) as (url, _):
        redirect(ember.datasets.mnist, monkeypatch, url, files)
        result = runpy.run_path(example, run_name="__main__")
    score = result["score"]
    assert len(score) == 2 and 0 <= score[1] <= 1 and np.isfinite(score[0])

