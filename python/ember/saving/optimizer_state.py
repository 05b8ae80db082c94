"""The optimizer's state in Keras 3's variable layout.

Keras 3 keeps an optimizer's state as one list, `optimizer.variables`:
`iteration`, then `learning_rate` (absent when the rate is a schedule), then the
slots, then any optimizer-wide scalar created after them (Nadam's u_product).
Slots that Keras creates in one `add_optimizer_variables` call are interleaved
per model variable (Adam: kernel_momentum, kernel_velocity, bias_momentum, ...);
slots created by separate calls follow one another in blocks (RMSprop: every
velocity, then every momentum). Files store that list in that order, so the
order is what makes ember's files and Keras's agree.

The engine names its slots as Keras does, so the grouping follows from the slot
names alone; an optimizer whose Keras counterpart groups differently can say so
with a `_keras_slot_groups(slot_names)` method.
"""

import warnings

import numpy as np

# Slot names Keras 3 creates together (adam/adamw/nadam/lamb, adamax, ftrl, adadelta).
_INTERLEAVED = {("momentum", "velocity"), ("momentum", "norm"), ("accumulator", "linear"),
                ("accumulated_grad", "accumulated_delta_var")}


def slot_groups(optimizer, slot_names):
    """The slot names grouped as Keras creates them, in Keras's order."""
    custom = getattr(optimizer, "_keras_slot_groups", None)
    if custom is not None:
        return [tuple(group) for group in custom(list(slot_names))]
    groups, i = [], 0
    while i < len(slot_names):
        pair = tuple(slot_names[i:i + 2])
        if pair in _INTERLEAVED:
            groups.append(pair)
            i += 2
        else:
            groups.append((slot_names[i],))
            i += 1
    return groups


def has_schedule(optimizer):
    """True when the learning rate is a schedule, which Keras keeps no variable for."""
    lr = optimizer.get_config().get("learning_rate")
    return isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating))


def keras_variable_path(model, variable):
    """The path Keras 3 gives a model variable: a Sequential builds its layers inside
    its own name scope ("sequential/dense/kernel"), a functional model does not."""
    from ember.models.sequential import Sequential
    return f"{model.name}/{variable.path}" if isinstance(model, Sequential) else variable.path


def _state(model):
    state = model._get_optimizer_state()
    return state if state is not None else model._pending_optimizer_state


def keras_optimizer_variables(model):
    """[(name, value)] in Keras's `optimizer.variables` order, or None without an
    optimizer. Before the optimizer has trained there are no slots yet, and the
    list holds only the iteration count and learning rate (as Keras's does)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    state = _state(model)
    prefix = optimizer.name
    iterations = state["iterations"] if state else int(optimizer.iterations)
    out = [(f"{prefix}/iteration", np.asarray(iterations, dtype=np.int64))]
    if not has_schedule(optimizer):
        lr = state["learning_rate"] if state else float(optimizer.learning_rate)
        out.append((f"{prefix}/learning_rate", np.asarray(lr, dtype=np.float32)))
    if state:
        names = list(state["slot_names"])
        variables = model._optimizer_variables()
        for group in slot_groups(optimizer, names):
            for variable, slots in zip(variables, state["slots"]):
                path = keras_variable_path(model, variable).replace("/", "_")
                for slot in group:
                    value = np.asarray(slots[names.index(slot)], dtype=np.float32)
                    shape = optimizer._keras_slot_shape(slot, variable.shape)
                    out.append((f"{prefix}/{path}_{slot}", value.reshape(shape)))
        for name, value in zip(state.get("scalar_names", []), state.get("scalars", [])):
            out.append((f"{prefix}/{name}", np.asarray(value, dtype=np.float32)))
    return out


def _skip(optimizer, message):
    warnings.warn(f"Skipping variable loading for optimizer '{optimizer.name}': {message} "
                  "The optimizer starts fresh.", stacklevel=4)
    return False


# The engine's bound on a step count (Optimizer::kMaxIterations).
MAX_ITERATIONS = 2**53


def _checked_number(value, field, integer=False):
    """A saved scalar as a Python number, or a ValueError naming the file's field: the
    engine would otherwise take it and fail (or train to NaN) at the first step."""
    kind = np.asarray(value).dtype.kind
    if kind not in "iuf":
        raise ValueError(f"the optimizer state's {field} is not a number (dtype "
                         f"{np.asarray(value).dtype}).")
    number = value.item() if hasattr(value, "item") else value
    if not np.isfinite(number):
        raise ValueError(f"the optimizer state's {field} is {number}, not a finite number.")
    if integer:
        if number != int(number):
            raise ValueError(f"the optimizer state's {field} is {number}, not a whole number.")
        return int(number)
    return float(number)


def checked_iterations(value):
    """A saved `iteration` count, checked: a whole number in [0, 2**53)."""
    field = "optimizer/vars/0 (iteration)"
    steps = _checked_number(value, field, integer=True)
    if not 0 <= steps < MAX_ITERATIONS:
        raise ValueError(f"the optimizer state's {field} is {steps}; a step count is in "
                         f"[0, 2**53).")
    return steps


def checked_learning_rate(value):
    """A saved `learning_rate`, checked: finite and not negative."""
    field = "optimizer/vars/1 (learning_rate)"
    lr = _checked_number(value, field)
    if lr < 0:
        raise ValueError(f"the optimizer state's {field} is {lr}; a learning rate is not "
                         "negative.")
    return lr


def restore_keras_optimizer_variables(model, values):
    """Restores the state from values in Keras's order. When they do not fit this
    optimizer (another optimizer, an untrained one, other variables) it warns, as
    Keras does, and leaves the optimizer fresh. Returns whether it restored."""
    optimizer = model.optimizer
    names = list(optimizer._core.slot_names())
    scalar_names = list(optimizer._core.scalar_names())
    variables = model._optimizer_variables()
    schedule = has_schedule(optimizer)
    expected = 1 + (0 if schedule else 1) + len(names) * len(variables) + len(scalar_names)
    if len(values) != expected:
        return _skip(optimizer, f"it has {expected} variables whereas the saved optimizer has "
                                f"{len(values)} variables.")
    values = [np.asarray(v) for v in values]
    if values[0].shape != () or (not schedule and values[1].shape != ()):
        return _skip(optimizer, "the saved iteration count or learning rate is not a scalar.")
    iterations = checked_iterations(values[0])
    lr = float(optimizer.learning_rate) if schedule else checked_learning_rate(values[1])
    k = 1 if schedule else 2
    slots = [[None] * len(names) for _ in variables]
    for group in slot_groups(optimizer, names):
        for i, variable in enumerate(variables):
            for slot in group:
                value = values[k]
                k += 1
                shape = optimizer._keras_slot_shape(slot, variable.shape)
                if value.shape != shape:
                    return _skip(optimizer, f"its '{slot}' slot for {variable.path} has shape "
                                            f"{value.shape} in the file, but {shape} is "
                                            f"expected for a variable of shape "
                                            f"{variable.shape}.")
                slots[i][names.index(slot)] = value.astype(np.float32)
    if any(v.shape != () for v in values[k:]):
        return _skip(optimizer, f"its scalars {scalar_names} are not scalars in the file.")
    scalars = [_checked_number(v, f"optimizer/vars/{k + j} ({name})")
               for j, (v, name) in enumerate(zip(values[k:], scalar_names))]
    model._set_optimizer_state({"iterations": iterations, "learning_rate": lr,
                                "slot_names": names, "slots": slots,
                                "scalar_names": scalar_names, "scalars": scalars})
    return True


def warn_no_state(model, filepath):
    warnings.warn(f"The file '{filepath}' holds no optimizer state, so the optimizer of the loaded "
                  f"model starts fresh ({type(model.optimizer).__name__}, iteration 0).",
                  stacklevel=4)
