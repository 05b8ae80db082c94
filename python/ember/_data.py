"""Turning what users pass to fit/evaluate/predict into float32 arrays, once.

Accepts NumPy arrays of any numeric dtype, pandas DataFrames and Series, and
(nested) lists. Everything else, and anything non-numeric, empty or not
finite, is rejected here with a message that names the argument.
"""

import numpy as np


def _is_pandas(data):
    return type(data).__module__.split(".")[0] == "pandas"


def _numeric_array(data, name):
    """One array-like -> a numeric ndarray with a batch axis and at least one sample (what
    float and integer inputs alike need); raises naming `name` otherwise."""
    if data is None:
        raise ValueError(f"`{name}` is None.")
    if _is_pandas(data):
        if hasattr(data, "dtypes") and hasattr(data.dtypes, "items"):  # DataFrame
            bad = [str(c) for c, t in data.dtypes.items() if not _numeric_dtype(t)]
            if bad:
                raise TypeError(
                    f"`{name}` must be numeric, but DataFrame columns {bad} are not "
                    "(one-hot encode them first, e.g. with pandas.get_dummies)."
                )
        data = data.to_numpy()
    try:
        arr = np.asarray(data)
    except ValueError as e:  # ragged lists
        raise ValueError(f"`{name}` could not be turned into an array: {e}") from None
    if not _numeric_dtype(arr.dtype):
        raise TypeError(f"`{name}` must be numeric, got an array of dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must have a batch axis, got a scalar.")
    if arr.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: it has 0 samples.")
    return arr


def to_array(data, name):
    """One array-like -> C-contiguous float32 ndarray with a batch axis."""
    arr = _numeric_array(data, name)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        where = np.argwhere(~np.isfinite(arr))[0]
        index = tuple(int(i) for i in where)
        raise ValueError(f"`{name}` contains NaN or infinity (first at index {index}).")
    return arr


# Integer inputs (issue 11) ------------------------------------------------------------------
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def to_id_array(data, name):
    """One array-like for an integer `Input` -> a C-contiguous array of its values as int32,
    viewed as float32: the engine's buffers carry the ids' bit patterns, never a float round
    trip. Float arrays are cast as Keras casts them when they hold whole numbers; anything
    else, and ids outside int32's range, raise ValueError naming the first one."""
    arr = _numeric_array(data, name)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.trunc(arr))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"`{name}` feeds an integer input but holds {arr[where]!r} at index "
                             f"{where}, which is not a whole number.")
    if arr.dtype != np.int32 and arr.size:
        bad = (arr < _INT32_MIN) | (arr > _INT32_MAX)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"`{name}` holds {arr[where]!r} at index {where}, outside int32's "
                             "range: integer inputs are stored as int32.")
    return np.ascontiguousarray(arr, dtype=np.int32).view(np.float32)


def _numeric_dtype(dtype):
    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # pandas extension dtypes
        kind = getattr(dtype, "kind", "O")
    return kind in "biuf"


def to_arrays(data, name, count, names=None, int_inputs=None):
    """x or y for a model with `count` inputs/outputs -> list of float32 arrays.

    A single model input takes one array; several take a list/tuple in order,
    or a dict keyed by input name. int_inputs: per array, whether it feeds an integer
    `Input` (then its int32 bits, by to_id_array).
    """
    if int_inputs is None:
        def convert(d, i, what):
            return to_array(d, what)
    else:
        def convert(d, i, what):
            return to_id_array(d, what) if int_inputs[i] else to_array(d, what)

    if isinstance(data, dict):
        if names is None or set(data) != set(names):
            raise ValueError(f"`{name}` dict keys {sorted(data)} do not match {names}.")
        data = [data[k] for k in names]
    if count == 1:
        # [array] is the one input wrapped in a list; [[1, 2, 3]] is one sample.
        if isinstance(data, (list, tuple)) and len(data) == 1 and (
            isinstance(data[0], np.ndarray) or _is_pandas(data[0])
        ):
            data = data[0]
        arrays = [convert(data, 0, name)]
    else:
        if not isinstance(data, (list, tuple)) or len(data) != count:
            raise ValueError(f"the model has {count} {name} arrays; pass a list of {count}.")
        arrays = [convert(d, i, f"{name}[{i}]") for i, d in enumerate(data)]
    n = arrays[0].shape[0]
    for i, a in enumerate(arrays):
        if a.shape[0] != n:
            raise ValueError(
                f"all `{name}` arrays must have the same number of samples, "
                f"got {n} and {a.shape[0]} (array {i})."
            )
    return arrays

