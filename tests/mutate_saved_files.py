"""Loads damaged copies of ember's three file formats and reports every load that
fails with anything but a ValueError, OSError or TypeError naming the file.

Run by tests/test_damaged_files.py in a child process (a hang or a crash there is a
failure, not a stuck suite): `python mutate_saved_files.py <folder> <seed> <count>`.
Prints "start <n> <what>" before each load, "bad <n> <what>: <error>" for each
failure, and "done <loads>" at the end.
"""

import copy
import io
import json
import sys
import warnings
import zipfile

import ember
import numpy as np

ALLOWED = (ValueError, OSError, TypeError)
ODD_VALUES = [-1, 0, 2**63, 2**64 - 1, -(2**63) - 1, 1e308, float("inf"), "x", "7", None, [],
              {}, [[[[1]]]], True, 42, 2e8, "mixed_bfloat16", {"class_name": 42}]


def build(folder):
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    y = x[:, :2] * 2
    inputs = ember.Input((6,), name="x")
    h = ember.layers.Dense(5, activation="relu")(inputs)
    h = ember.layers.BatchNormalization()(h)
    model = ember.Model(inputs, ember.layers.Dense(2)(h))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    paths = {ext: f"{folder}/m{ext}" for ext in (".keras", ".h5", ".weights.h5")}
    model.save(paths[".keras"])
    model.save(paths[".h5"])
    model.save_weights(paths[".weights.h5"])
    return model, x, paths


def json_paths(node, at=()):
    yield at
    if isinstance(node, dict):
        for k, v in node.items():
            yield from json_paths(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from json_paths(v, at + (i,))


def replaced(node, path, value):
    node = copy.deepcopy(node)
    if not path:
        return value
    parent = node
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return node


def edited_configs(config, rng, count):
    paths = list(json_paths(config))
    for i in rng.permutation(len(paths))[:count]:
        path = paths[i]
        value = ODD_VALUES[rng.integers(len(ODD_VALUES))]
        yield f"config{list(path)}={value!r}", json.dumps(replaced(config, path, value))
    yield "config nested 5000 deep", ('{"class_name": "Sequential", "config": {"layers": '
                                      + "[" * 5000 + "]" * 5000 + "}}")


def keras_with(path, members):
    """The .keras archive at `path` with some members replaced: bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, members.get(name, src.read(name)))
    return out.getvalue()


def byte_damage(data, rng, count):
    n = len(data)
    for _ in range(count):
        kind = rng.integers(3)
        damaged = bytearray(data)
        if kind == 0:
            at = int(rng.integers(n))
            damaged[at] ^= int(rng.integers(1, 256))
            yield f"flip byte {at}", bytes(damaged)
        elif kind == 1:
            at = int(rng.integers(n))
            yield f"truncate at {at}", bytes(damaged[:at])
        else:
            at = int(rng.integers(n - 24))
            damaged[at:at + 24] = bytes(24)
            yield f"zero 24 bytes at {at}", bytes(damaged)


def mutations(paths, rng, count):
    """(what, file extension, bytes) for `count` damaged files per format and kind."""
    for ext, path in paths.items():
        with open(path, "rb") as f:
            data = f.read()
        for what, damaged in byte_damage(data, rng, count):
            yield f"{ext}: {what}", ext, damaged
    with zipfile.ZipFile(paths[".keras"]) as zf:
        config = json.loads(zf.read("config.json"))
        weights = zf.read("model.weights.h5")
    for what, damaged in byte_damage(weights, rng, count):
        yield f".keras weights: {what}", ".keras", keras_with(paths[".keras"],
                                                                 {"model.weights.h5": damaged})
    for what, edited in edited_configs(config, rng, count):
        yield f".keras {what}", ".keras", keras_with(paths[".keras"],
                                                    {"config.json": edited})
    import h5py
    with h5py.File(paths[".h5"], "r") as f:
        h5_config = json.loads(f.attrs["model_config"])
    for what, edited in edited_configs(h5_config, rng, count):
        buffer = io.BytesIO(open(paths[".h5"], "rb").read())
        with h5py.File(buffer, "r+") as f:
            f.attrs["model_config"] = edited
        yield f".h5 model_{what}", ".h5", buffer.getvalue()


def main(folder, seed, count):
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(3000)
    model, x, paths = build(folder)
    rng = np.random.default_rng(seed)
    loads, outcomes = 0, {}
    for n, (what, ext, data) in enumerate(mutations(paths, rng, count)):
        target = f"{folder}/damaged{ext}"
        with open(target, "wb") as f:
            f.write(data)
        print("start", n, what, flush=True)
        loads += 1
        try:
            if ext == ".weights.h5":
                model.load_weights(target)
                loaded = model
            else:
                loaded = ember.models.load_model(target)
            if isinstance(loaded, ember.Model) and loaded.inputs:
                loaded.predict(x[:4], verbose=0)
        except ALLOWED as e:
            outcomes[type(e).__name__] = outcomes.get(type(e).__name__, 0) + 1
            if target not in str(e):
                print("bad", n, what, f": {type(e).__name__} without the file's name: {e}"[:400],
                      flush=True)
        except Exception as e:  # the failures this script is looking for
            outcomes[type(e).__name__] = outcomes.get(type(e).__name__, 0) + 1
            print("bad", n, what, f": {type(e).__name__}: {e}"[:400], flush=True)
    print("done", loads, outcomes, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
