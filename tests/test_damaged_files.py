"""Damaged and hostile files: every failure to load is a ValueError, OSError or
TypeError naming the file and the problem - never another exception, a crash, a
hang or a huge allocation - and saves behave as Keras's do."""

import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import ember
import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mutate_saved_files import build, keras_with, replaced  # noqa: E402

MUTATOR = Path(__file__).parent / "mutate_saved_files.py"


def test_mutated_files_fail_only_with_clear_errors(tmp_path, rng):
    # Byte flips, truncations, zeroed runs and edited configs over the three formats
    # (~250 loads), in a child process: a crash or a hang there fails this test.
    seed = int(rng.integers(2**31))
    try:
        done = subprocess.run([sys.executable, str(MUTATOR), str(tmp_path), str(seed), "40"],
                              capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired as e:
        started = [line for line in (e.stdout or b"").decode().splitlines()
                   if line.startswith("start")]
        pytest.fail(f"a load hung (seed {seed}): {started[-1] if started else 'before any'}")
    lines = done.stdout.splitlines()
    bad = [line for line in lines if line.startswith("bad")]
    assert done.returncode == 0, (seed, done.returncode, lines[-1:], done.stderr[-2000:])
    assert not bad, (seed, bad)
    assert lines[-1].startswith("done") and int(lines[-1].split()[1]) >= 240


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    model, x, paths = build(folder)
    return model, x, paths


def keras_config(paths):
    with zipfile.ZipFile(paths[".keras"]) as zf:
        return json.loads(zf.read("config.json"))


def load_edited(paths, tmp_path, path, value):
    target = tmp_path / "edited.keras"
    target.write_bytes(keras_with(paths[".keras"], {
        "config.json": json.dumps(replaced(keras_config(paths), path, value))}))
    return target, lambda: ember.models.load_model(target)


def layer_index(paths, class_name):
    layers = keras_config(paths)["config"]["layers"]
    return next(i for i, layer in enumerate(layers) if layer["class_name"] == class_name)


@pytest.mark.parametrize("value, error, match", [
    (-1, ValueError, "iteration.* -1"),
    (-5, ValueError, "iteration.* -5"),
    (np.int64(2**63 - 1), ValueError, "iteration.* 9223372036854775807"),
    (np.uint64(2**64 - 1), ValueError, "iteration.* 18446744073709551615"),
    (np.float64(2.5), ValueError, "iteration.* whole number"),
])
def test_a_saved_iteration_count_out_of_range_is_refused(saved, tmp_path, value, error, match):
    model, x, paths = saved
    target = tmp_path / "m.weights.h5"
    target.write_bytes(Path(paths[".weights.h5"]).read_bytes())
    with h5py.File(target, "r+") as f:
        del f["optimizer/vars/0"]
        f["optimizer/vars/0"] = value
    before = model.get_weights()
    with pytest.raises(error, match=match) as info:
        model.load_weights(target)
    assert str(target) in str(info.value)
    for got, want in zip(model.get_weights(), before):  # left unchanged
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("value", [np.float32("nan"), np.float32(-0.5), np.float32("inf")])
def test_a_saved_learning_rate_that_is_no_rate_is_refused_on_load(saved, tmp_path, value):
    _, _, paths = saved
    with zipfile.ZipFile(paths[".keras"]) as zf:
        buffer = io.BytesIO(zf.read("model.weights.h5"))
    with h5py.File(buffer, "r+") as f:
        del f["optimizer/vars/1"]
        f["optimizer/vars/1"] = value
    target = tmp_path / "lr.keras"
    target.write_bytes(keras_with(paths[".keras"], {"model.weights.h5": buffer.getvalue()}))
    with pytest.raises(ValueError, match="learning_rate") as info:
        ember.models.load_model(target)
    assert str(target) in str(info.value)


def test_the_engine_refuses_a_step_count_out_of_range():
    optimizer = ember.optimizers.Adam()
    for bad in (-1, 2**53, 2**64 - 1):
        with pytest.raises(ValueError, match="iterations"):
            optimizer._core.iterations = bad


@pytest.mark.parametrize("edit, error, match", [
    ((("config",), []), TypeError, "'config' to be a dict"),
    ((("config", "layers", 1, "class_name"), 42), TypeError, "'class_name' to be a string"),
    ((("config", "layers", 1, "config", "name"), 7), ValueError, "`name` must be a string"),
    ((("compile_config", "loss_weights"), "heavy"), TypeError, "loss_weights"),
    ((("config", "layers", 1, "config", "units"), 200_000_000), ValueError,
     r"shape \(6, 200000000\).*file holds only"),
])
def test_edited_configs_raise_errors_naming_the_problem(saved, tmp_path, edit, error, match):
    _, _, paths = saved
    target, load = load_edited(paths, tmp_path, *edit)
    with pytest.raises(error, match=match) as info:
        load()
    assert str(target) in str(info.value)


@pytest.mark.parametrize("key, value, match", [
    ("epsilon", -1, "epsilon"), ("epsilon", 0, "epsilon"), ("momentum", 5, "momentum")])
def test_batch_normalization_arguments_are_checked(saved, tmp_path, key, value, match):
    _, _, paths = saved
    i = layer_index(paths, "BatchNormalization")
    _, load = load_edited(paths, tmp_path, ("config", "layers", i, "config", key), value)
    with pytest.raises(ValueError, match=match):
        load()
    with pytest.raises(ValueError, match=match):
        ember.layers.BatchNormalization(**{key: value})


def test_dtype_policies_other_than_float32(saved, tmp_path, rng):
    _, x, paths = saved
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": ""},
              "registered_name": None}
    for name in ("mixed_bfloat16", "float64"):
        policy["config"]["name"] = name
        _, load = load_edited(paths, tmp_path, ("config", "layers", 1, "config", "dtype"), policy)
        with pytest.warns(UserWarning, match=f"dtype policy '{name}'"):
            load()
    policy["config"]["name"] = "int8"
    _, load = load_edited(paths, tmp_path, ("config", "layers", 1, "config", "dtype"), policy)
    with pytest.raises(ValueError, match="dtype policy 'int8'"):
        load()


def test_weights_stored_as_strings_are_refused(saved, tmp_path):
    _, _, paths = saved
    with zipfile.ZipFile(paths[".keras"]) as zf:
        buffer = io.BytesIO(zf.read("model.weights.h5"))
    with h5py.File(buffer, "r+") as f:
        value = f["layers/dense/vars/0"][()]
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = value.astype(str).astype("S")
    target = tmp_path / "strings.keras"
    target.write_bytes(keras_with(paths[".keras"], {"model.weights.h5": buffer.getvalue()}))
    with pytest.raises(TypeError, match="dtype"):
        ember.models.load_model(target)


def test_deeply_nested_json_is_a_value_error(saved, tmp_path):
    _, _, paths = saved
    target = tmp_path / "deep.keras"
    deep = '{"class_name": "Sequential", "config": {"layers": ' + "[" * 100_000 \
        + "]" * 100_000 + "}}"
    target.write_bytes(keras_with(paths[".keras"], {"config.json": deep}))
    with pytest.raises(ValueError, match="deep.keras"):
        ember.models.load_model(target)


def test_a_global_heap_libhdf5_would_read_forever_is_refused(saved, tmp_path):
    # libhdf5's H5HG__cache_heap_deserialize walks a heap collection's objects by their
    # sizes; a free-space object of size 0 stops the walk from advancing. 24 zeroed
    # bytes over the first object's header make one (Keras hangs on this file).
    _, _, paths = saved

    def damaged(data):
        data = bytearray(data)
        heap = data.find(b"GCOL\x01\x00\x00\x00")
        data[heap + 16:heap + 40] = bytes(24)
        return bytes(data)

    with zipfile.ZipFile(paths[".keras"]) as zf:
        weights = zf.read("model.weights.h5")
    files = {".h5": damaged(Path(paths[".h5"]).read_bytes()),
             ".weights.h5": damaged(Path(paths[".weights.h5"]).read_bytes()),
             ".keras": keras_with(paths[".keras"], {"model.weights.h5": damaged(weights)})}
    for ext, data in files.items():
        target = tmp_path / f"heap{ext}"
        target.write_bytes(data)
        script = ("import sys, ember\ntry:\n"
                  "    ember.saving.file_utils.open_h5(sys.argv[1], 'weights') if "
                  "sys.argv[1].endswith('.weights.h5') else ember.models.load_model(sys.argv[1])\n"
                  "except OSError as e:\n    print('OSError', e)\n")
        done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True,
                              text=True, timeout=60)
        assert done.stdout.startswith("OSError") and "global heap" in done.stdout, done


# -- saves ------------------------------------------------------------------------------
SAVERS = {".keras": lambda m, p: m.save(p), ".h5": lambda m, p: m.save(p),
          ".weights.h5": lambda m, p: m.save_weights(p)}


@pytest.mark.parametrize("ext", SAVERS)
def test_saved_files_follow_the_umask_and_keep_an_old_files_mode(saved, tmp_path, ext):
    model = saved[0]
    old = os.umask(0o022)
    try:
        SAVERS[ext](model, tmp_path / f"new{ext}")
        assert stat.S_IMODE(os.stat(tmp_path / f"new{ext}").st_mode) == 0o644
        os.umask(0o077)
        SAVERS[ext](model, tmp_path / f"other{ext}")
        assert stat.S_IMODE(os.stat(tmp_path / f"other{ext}").st_mode) == 0o600
        os.chmod(tmp_path / f"new{ext}", 0o640)
        SAVERS[ext](model, tmp_path / f"new{ext}")
        assert stat.S_IMODE(os.stat(tmp_path / f"new{ext}").st_mode) == 0o640
    finally:
        os.umask(old)


@pytest.mark.parametrize("ext", SAVERS)
def test_saving_to_a_symlink_writes_through_it(saved, tmp_path, ext):
    model = saved[0]
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / f"m{ext}"
    real.write_bytes(b"old")
    link = tmp_path / f"link{ext}"
    link.symlink_to(real)
    SAVERS[ext](model, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() != b"old"
    assert sorted(os.listdir(tmp_path / "real")) == [f"m{ext}"]


def test_a_save_into_a_file_that_is_a_folder_names_it(saved, tmp_path):
    (tmp_path / "m.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="m.keras"):
        saved[0].save(tmp_path / "m.keras")


KILLED_SAVE = """
import os, sys, numpy as np, ember
m = ember.Sequential([ember.Input((64,)), ember.layers.Dense(2048), ember.layers.Dense(2048)])
m.compile(optimizer="adam", loss="mse")
print("ready", flush=True)
while True:
    m.save(sys.argv[1])
"""


def test_a_killed_saves_temporary_file_is_removed_by_the_next_save(saved, tmp_path):
    target = tmp_path / "m.keras"
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(target)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60  # a bound, not a timing: saves start at once
        while time.monotonic() < deadline:  # until a save is under way
            if any(n.endswith(".ember-tmp") for n in os.listdir(tmp_path)):
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".ember-tmp")]
    assert leftovers, "the child was not killed mid-save; nothing to check"
    # Young temporaries may be a live save's; an hour old, the next save removes them.
    saved[0].save(target)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".ember-tmp")] == leftovers
    for name in leftovers:
        os.utime(tmp_path / name, (0, 0))
    saved[0].save(target)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".ember-tmp")] == []
    ember.models.load_model(target)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes where permissions say no")
def test_a_read_only_folder_raises_permission_error_naming_the_users_path(saved, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        for ext, save in SAVERS.items():
            with pytest.raises(PermissionError, match=f"m{ext}"):
                save(saved[0], folder / f"m{ext}")
    finally:
        folder.chmod(0o755)


def test_an_error_while_writing_names_the_users_path_not_the_temporary(tmp_path):
    from ember.saving import file_utils

    target = tmp_path / "m.keras"
    with pytest.raises(OSError) as info, file_utils.atomic_path(target) as tmp:
        raise OSError(28, f"No space left on device: '{tmp}'")
    assert str(target) in str(info.value) and ".ember-tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []
