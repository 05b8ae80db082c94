"""save_model, load_model, save_weights, load_weights: Keras 3's entry points,
choosing the format from the file name as Keras does.

| file              | written by                   | holds                                      |
| ----------------- | ---------------------------- | ------------------------------------------ |
| `*.keras`         | `model.save`                 | config, weights, compile args, optimizer   |
| `*.h5`, `*.hdf5`  | `model.save`                 | the same, in Keras's legacy HDF5 layout    |
| `*.weights.h5`    | `model.save_weights`         | weights and optimizer state                |

Every write goes to a temporary file in the same folder that is renamed over the
target only when complete, so a failed save leaves an earlier file intact.
"""

import contextlib
import os
import warnings

from ember.distribution import distribution_lib
from ember.saving import (
    file_utils,
    keras_zip_format,
    legacy_h5_format,
    optimizer_state,
    serialization_lib,
    weights_h5,
)


def _path(filepath):
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"`filepath` must be a str or os.PathLike, got {filepath!r}") from None


@contextlib.contextmanager
def _loading(filepath):
    """Loading `filepath`: whatever goes wrong reaches the user as a ValueError,
    OSError or TypeError whose message names the file. A damaged file can fail deep
    inside h5py, json or a layer's constructor (KeyError, AttributeError,
    RecursionError, OverflowError, ...): those become ValueErrors that say so."""
    try:
        yield
    except (ValueError, OSError, TypeError) as e:
        if filepath in str(e):
            raise
        raise _renamed(e, f"Cannot load '{filepath}': {e}") from e
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        raise ValueError(f"Cannot load '{filepath}': the file is damaged or not what its name "
                         f"says ({type(e).__name__}: {e}).") from e


def _renamed(error, message):
    """error's type with a new message (its nearest plain base when the type cannot be
    built from a message alone, as UnicodeDecodeError cannot)."""
    for cls in type(error).__mro__:
        if cls in (ValueError, OSError, TypeError) or issubclass(cls, OSError):
            with contextlib.suppress(Exception):
                return cls(message)
    return ValueError(message)


def _confirm_overwrite(filepath, overwrite):
    if overwrite or not os.path.exists(filepath):
        return True
    return file_utils.ask_to_proceed_with_overwrite(filepath)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves `model` to `filepath` (`.keras`, or the legacy `.h5` / `.hdf5`).

    `include_optimizer=False` (legacy `.h5` only) leaves out the compile arguments
    and optimizer state."""
    include_optimizer = kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    filepath = _path(filepath)
    if save_format and not filepath.endswith((".h5", ".hdf5", ".keras")):
        raise ValueError("The `save_format` argument is deprecated in Keras 3. Please remove "
                         "this argument and pass a file path with either `.keras` or `.h5` "
                         f"extension. Received: save_format={save_format}")
    if zipped is False:
        raise NotImplementedError("zipped=False (a folder instead of a .keras file) is not "
                                  "supported; save to a `.keras` file.")
    if not filepath.endswith((".keras", ".h5", ".hdf5")):
        raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` "
                         "extension for the native Keras format (recommended) or a `.h5` "
                         f"extension. Received: filepath={filepath}.")
    if not model.built:
        warnings.warn("You are saving a model that has not yet been built. It might not "
                      "contain any weights yet. Consider building the model first by calling "
                      "it on some data.", stacklevel=3)

    def write():
        if not _confirm_overwrite(filepath, overwrite):
            return
        if filepath.endswith(".keras"):
            keras_zip_format.save_model(model, filepath)
        else:
            legacy_h5_format.save_model_to_hdf5(model, filepath, include_optimizer)
    # Under DataParallel rank 0 writes (every rank holds the same model); the others wait.
    distribution_lib.write_on_rank_zero(write)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by ember or Keras (`.keras`, `.h5`, `.hdf5`, or a Keras 2
    `.h5`). With `compile=True` and compile arguments in the file the model comes
    back compiled, with its optimizer state restored so training resumes exactly.
    Classes that are not built in are found through `register_keras_serializable`
    or `custom_objects={"Name": cls}`."""
    filepath = _path(filepath)
    if filepath.endswith((".h5", ".hdf5")):
        with _loading(filepath):
            return legacy_h5_format.load_model_from_hdf5(filepath, custom_objects, compile,
                                                         safe_mode)
    if filepath.endswith(".keras"):
        with _loading(filepath):
            return keras_zip_format.load_model(filepath, custom_objects, compile, safe_mode)
    raise ValueError(f"File format not supported: filepath={filepath}. ember loads `.keras` "
                     "files and legacy `.h5` / `.hdf5` files.")


def save_weights(model, filepath, overwrite=True, max_shard_size=None):
    """Saves the weights and optimizer state in Keras 3's `.weights.h5` layout."""
    import h5py

    filepath = _path(filepath)
    if max_shard_size is not None:
        raise NotImplementedError("max_shard_size (sharded weights) is not supported yet.")
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={filepath}")
    if not model.built:
        raise ValueError("You are saving a model that has not yet been built. Try building the "
                         "model first by calling it on some data or by using `build()`.")

    def write():
        if not _confirm_overwrite(filepath, overwrite):
            return
        with file_utils.atomic_path(filepath, create_folder=True) as tmp, \
                h5py.File(tmp, "w") as h5:
            weights_h5.write_weights(h5, model)
    distribution_lib.write_on_rank_zero(write)


def _snapshot(model):
    return [(w, w.numpy()) for w in model.weights]


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Loads weights into `model` from `.weights.h5`, `.keras` or legacy `.h5` files.

    A compiled model also gets the optimizer state a `.weights.h5` / `.keras` file
    holds (applied when training starts). Weights that do not fit raise a
    ValueError naming the layer and both shapes, and leave the model unchanged;
    with `skip_mismatch=True` the misfits are skipped with a warning. `by_name=True`
    (legacy `.h5` only) loads the layers whose names match."""
    by_name = kwargs.pop("by_name", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    filepath = _path(filepath)
    if not model.built:
        raise ValueError("You are loading weights into a model that has not yet been built. "
                         "Try building the model first by calling it on some data or by using "
                         "`build()`.")
    is_legacy = filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")
    if by_name is not None and not is_legacy:
        raise ValueError("`by_name` only supports loading legacy '.h5' or '.hdf5' files. "
                         f"Received: {filepath}")
    if not (is_legacy or filepath.endswith((".weights.h5", ".keras"))):
        raise ValueError(f"File format not supported: filepath={filepath}. ember loads "
                         "`.weights.h5`, `.keras` and legacy `.h5` files.")
    before = _snapshot(model)
    try:
        with _loading(filepath):
            optimizer_values = _load_weights(model, filepath, skip_mismatch, by_name, is_legacy)
            if getattr(model, "optimizer", None) is not None and model.compiled \
                    and not is_legacy:
                if optimizer_values is None:
                    optimizer_state.warn_no_state(model, filepath)
                else:  # ValueError (the weights put back) for a state that is not a state
                    optimizer_state.restore_keras_optimizer_variables(model, optimizer_values)
    except BaseException:
        for w, value in before:
            w.assign(value)
        raise


def _load_weights(model, filepath, skip_mismatch, by_name, is_legacy):
    if filepath.endswith(".keras"):
        with file_utils.open_zip(filepath) as zf, keras_zip_format._open_weights(zf, filepath) \
                as h5:
            return weights_h5.read_weights(h5, model, skip_mismatch)
    with file_utils.open_h5(filepath, "a weights file") as f:
        if is_legacy:
            group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f \
                else f
            if "layer_names" not in group.attrs and not any(
                    k.startswith("layer_names") for k in group.attrs):
                raise ValueError(f"'{filepath}' holds no Keras weights (no `layer_names`). A "
                                 "Keras 3 weights file must be named `*.weights.h5`.")
            if by_name:
                legacy_h5_format.load_weights_from_hdf5_group_by_name(group, model,
                                                                      skip_mismatch)
            else:
                legacy_h5_format.load_weights_from_hdf5_group(group, model, skip_mismatch)
            return None
        return weights_h5.read_weights(f, model, skip_mismatch)


def model_from_json(json_string, custom_objects=None):
    """The (fresh, newly initialized) model a `to_json()` string describes."""
    import json

    return serialization_lib.deserialize_keras_object(json.loads(json_string), custom_objects)
