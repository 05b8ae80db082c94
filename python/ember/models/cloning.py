"""`clone_model`: a model of the same architecture with fresh weights, as
`keras.models.clone_model`.

Each layer is rebuilt by `clone_function` (default `layer.__class__.from_config(
layer.get_config())`, so its weights are initialized anew); a Sequential model is
restacked, a functional one re-run through its graph on new inputs (`input_tensors`,
or fresh `Input`s like the model's). Any other model is rebuilt from its config. A
compiled model's clone is compiled the same way, as Keras does.
"""

from ember.layers.core import Input, InputLayer
from ember.layers.layer import KerasTensor
from ember.models.functional import calls_in_order, flatten
from ember.models.model import Model
from ember.models.sequential import Sequential


def _default_clone(layer):
    return layer.__class__.from_config(layer.get_config())


def _wrap_clone_function(clone_function, call_function, recursive, cache):
    clone_function = clone_function or _default_clone
    if not callable(clone_function):
        raise ValueError("Expected `clone_function` argument to be a callable. Received: "
                         f"clone_function={clone_function}")

    def wrapped(layer):
        if id(layer) in cache:
            return cache[id(layer)]
        if recursive and isinstance(layer, Model) and (isinstance(layer, Sequential)
                                                       or layer.inputs):
            clone = clone_model(layer, clone_function=clone_function,
                                call_function=None if isinstance(layer, Sequential)
                                else call_function, recursive=True, cache=cache)
        else:
            clone = clone_function(layer)
        cache[id(layer)] = clone
        return clone

    return wrapped


def _is_functional(model):
    return isinstance(model, Model) and not isinstance(model, Sequential) and bool(model.inputs)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A new model with the architecture of `model` and newly initialized weights.

    clone_function: `layer -> new layer` for every layer but the inputs (e.g. to copy
        weights, or change a config); call_function: `(layer, *args, **kwargs) -> outputs`
        replaces calling each cloned layer (functional models only); recursive: clone the
        layers of nested Sequential/functional models too, instead of passing them to
        clone_function whole; input_tensors: the `Input` tensors to build the clone on.
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs.keys())}")
    if not isinstance(model, Model):
        raise ValueError(f"Expected `model` argument to be a Model instance. Received: "
                         f"model={model!r}")
    cache = {} if cache is None else cache
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "`call_function` argument is not supported with Sequential models.  In a "
                "Sequential model, layers aren't called at model-construction time (they're "
                "merely listed). Use `call_function` with Functional models only. Received "
                f"model of type '{model.__class__.__name__}', with "
                f"call_function={call_function}")
        clone = _clone_sequential(
            model, _wrap_clone_function(clone_function, None, recursive, cache), input_tensors)
    elif _is_functional(model) and (type(model).get_config is Model.get_config
                                    or clone_function or input_tensors is not None):
        clone = _clone_functional(
            model, _wrap_clone_function(clone_function, call_function, recursive, cache),
            input_tensors, call_function)
    else:
        if clone_function or input_tensors is not None:
            raise ValueError(
                "Arguments `clone_function` and `input_tensors` are only supported for "
                "Sequential models or Functional models. Received model of type "
                f"'{model.__class__.__name__}', with clone_function={clone_function} and "
                f"input_tensors={input_tensors}")
        if call_function is not None:
            raise ValueError("Argument `call_function` is only supported for Functional "
                             f"models. Received model of type '{model.__class__.__name__}'")
        from ember.saving import serialization_lib

        config = serialization_lib.serialize_keras_object(model)
        return serialization_lib.deserialize_keras_object(
            config, custom_objects={model.__class__.__name__: model.__class__})
    if model.compiled:
        clone.compile_from_config(model.get_compile_config())
    return clone


def _input_layer_of(tensor, what):
    if not isinstance(tensor, KerasTensor) or tensor._call is None or not isinstance(
            tensor._call.layer, InputLayer):
        raise ValueError(f"{what} must be KerasTensors made by `ember.Input`. Received invalid "
                         f"value: {tensor!r}")
    return tensor._call.layer


def _fresh_input(input_layer):
    return Input(batch_shape=(input_layer.batch_size,) + tuple(input_layer.shape),
                 dtype=input_layer.dtype, name=input_layer.name)


def _clone_sequential(model, clone_function, input_tensors):
    new_layers = [clone_function(layer) for layer in model.layers]
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("Argument `input_tensors` must contain a single tensor.")
            input_tensors = input_tensors[0]
        new_layers = [_input_layer_of(input_tensors, "Argument `input_tensors`")] + new_layers
    elif model._input_layer is not None:
        new_layers = [_fresh_input(model._input_layer)] + new_layers
    return Sequential(new_layers, name=model.name, trainable=model.trainable)


def _same_structure(a, b):
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))
                and len(a) == len(b))
    return True


def _restructure(structure, mapping):
    if isinstance(structure, dict):
        return {k: mapping[id(v)] for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(mapping[id(v)] for v in structure)
    return mapping[id(structure)]


def _clone_functional(model, clone_function, input_tensors, call_function):
    reference = model._inputs_struct
    if input_tensors is None:
        new_inputs = {id(t): _fresh_input(t._call.layer) for t in model.inputs}
        input_tensors = _restructure(reference, new_inputs)
    else:
        if not _same_structure(input_tensors, reference):
            raise ValueError("`input_tensors` must have the same structure as model.input\n"
                             f"Reference structure: {reference}\nReceived structure: "
                             f"{input_tensors}")
        given = flatten(input_tensors)
        for t in given:
            _input_layer_of(t, "All entries in `input_tensors`")
        new_inputs = {id(old): new for old, new in zip(model.inputs, given)}
    tensors = dict(new_inputs)
    for call in calls_in_order(model.outputs):
        if isinstance(call.layer, InputLayer):
            continue
        layer = clone_function(call.layer)
        args = [tensors[id(t)] for t in call.inputs]
        arg = args if len(args) > 1 or getattr(call.layer, "_called_with_list", False) \
            else args[0]
        out = (call_function(layer, arg, **call.kwargs) if call_function is not None
               else layer(arg, **call.kwargs))
        for old, new in zip(call.outputs, flatten(out)):
            tensors[id(old)] = new
    outputs = _restructure(model._outputs_struct, tensors)
    return Model(input_tensors, outputs, name=model.name)
