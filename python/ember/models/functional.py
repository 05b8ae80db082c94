"""The functional graph's plumbing: a structure of tensors (or of compile's
arguments) as a flat list, and the layer calls that produce a model's outputs."""


def flatten(structure):
    """A dict's values, a list or tuple as a list, anything else as [it]."""
    if isinstance(structure, dict):
        return list(structure.values())
    if isinstance(structure, (list, tuple)):
        return list(structure)
    return [structure]


def calls_in_order(outputs):
    """The layer calls that produce `outputs`, inputs first (depth-first post-order)."""
    order, seen = [], set()
    stack = [(t, False) for t in reversed(outputs)]
    while stack:
        tensor, expanded = stack.pop()
        call = tensor._call
        if call is None:
            raise ValueError(f"{tensor} was not produced by a layer; use `ember.Input` for inputs.")
        if id(call) in seen and not expanded:
            continue
        if expanded:
            if id(call) not in seen:
                seen.add(id(call))
                order.append(call)
            continue
        stack.append((tensor, True))
        stack.extend((t, False) for t in reversed(call.inputs) if id(t._call) not in seen)
    return order


def get_source_inputs(tensor):
    """The model inputs (`ember.Input` tensors) that `tensor` is computed from, each once,
    in the order they are first reached; a tensor without history is its own source."""
    from ember.layers.core import InputLayer
    from ember.layers.layer import KerasTensor

    if not isinstance(tensor, KerasTensor):
        raise ValueError(f"get_source_inputs: expected a KerasTensor (a symbolic tensor), got "
                         f"{type(tensor).__name__}")
    sources, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        call = t._call
        if call is None or isinstance(call.layer, InputLayer) or not call.inputs:
            if id(t) not in seen:
                seen.add(id(t))
                sources.append(t)
            continue
        stack.extend(reversed(flatten(call.inputs)))
    return sources
