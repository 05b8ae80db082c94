"""Models to and from Keras's config: the functional graph as a list of layers with
their inbound nodes, a Sequential as its list of layers, and the compile
arguments. `Model` and `Sequential` delegate their `get_config` / `from_config`
here.

A functional layer's node is one call of the layer inside the model; its inputs
are named by `keras_history = [layer name, node index, tensor index]`, node
indices counting only the calls that belong to this model, as Keras counts.
"""

from ember.saving import serialization_lib
from ember.saving.serialization_lib import deserialize_layer, serialize_keras_object


# -- functional --------------------------------------------------------------------
def _own_calls(model):
    from ember.models.functional import calls_in_order
    return {id(call) for call in calls_in_order(model.outputs)}


def _node_index(call, own):
    calls = [c for c in call.layer._calls if id(c) in own]
    return next(i for i, c in enumerate(calls) if c is call)


def _history(tensor, own):
    call = tensor._call
    index = next(i for i, t in enumerate(call.outputs) if t is tensor)
    return [call.layer.name, _node_index(call, own), index]


def _tensor_config(tensor, own):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(tensor.shape), "dtype": tensor.dtype,
                       "keras_history": _history(tensor, own)}}


def _map_structure(structure, fn):
    if isinstance(structure, dict):
        return {k: _map_structure(v, fn) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [_map_structure(v, fn) for v in structure]
    return fn(structure)


def functional_get_config(model):
    own = _own_calls(model)
    layers = []
    for layer in model.layers:
        nodes = []
        for call in layer._calls:
            if id(call) not in own or not call.inputs:
                continue
            args = [_tensor_config(t, own) for t in call.inputs]
            # A merge layer takes its inputs as one list argument.
            nodes.append({"args": [args if len(args) > 1 else args[0]],
                          "kwargs": dict(call.kwargs)})
        config = serialization_lib.serialize_layer(layer)
        config["name"] = layer.name
        config["inbound_nodes"] = nodes
        layers.append(config)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": _map_structure(model._inputs_struct, lambda t: _history(t, own)),
        "output_layers": _map_structure(model._outputs_struct, lambda t: _history(t, own)),
    }


class _NotYetCreated(Exception):
    """A node's input comes from a layer call that has not been replayed yet."""


def _is_history(value):
    return (isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, int) for v in value[1:]))


def _histories(value, found):
    """The layer names every keras_history (or Keras 2 inbound entry) in value refers to."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            found.add(value["config"]["keras_history"][0])
        for v in value.values():
            _histories(v, found)
    elif isinstance(value, (list, tuple)):
        if value and isinstance(value[0], str) and len(value) >= 3:
            found.add(value[0])
        for v in value:
            _histories(v, found)
    return found


def _is_op_node(layer_config):
    # Legacy .h5 configs carry no module: there, the two ops Masking's call runs.
    module = layer_config.get("module")
    if module is None:
        return layer_config.get("class_name") in ("NotEqual", "Any")
    return str(module).startswith("keras.src.ops")


def _without_mask_kwargs(layer_config):
    nodes = layer_config.get("inbound_nodes")
    if not nodes or not any(isinstance(n, dict) and "mask" in (n.get("kwargs") or {})
                            for n in nodes):
        return layer_config
    nodes = [{**n, "kwargs": {k: v for k, v in n["kwargs"].items() if k != "mask"}}
             if isinstance(n, dict) and n.get("kwargs") else n for n in nodes]
    return {**layer_config, "inbound_nodes": nodes}


def _without_unused_ops(config):
    """The layer configs, less the op nodes (keras.src.ops...) no layer or output reads:
    Keras records the ops a layer's call runs on its mask - Masking's not_equal and any -
    as nodes of the functional graph (issue 11) and passes their result to the next layer
    as its `mask` argument, which ember drops: its emitter carries masks itself."""
    layers = [_without_mask_kwargs(c) for c in config["layers"]]
    while True:  # an unused op may be what made another op used (any(not_equal(...)))
        used = _histories([c.get("inbound_nodes") for c in layers], set())
        used = _histories([config.get("output_layers"), config.get("input_layers")], used)
        kept = [c for c in layers if not (_is_op_node(c) and c.get("name") not in used)]
        if len(kept) == len(layers):
            return kept
        layers = kept


def functional_from_config(cls, config, custom_objects=None):
    """Recreates the layers, then replays their calls in dependency order."""
    config = dict(config)
    created = {}
    pending = {}

    def tensor(layer_name, node_index, tensor_index):
        if layer_name not in created:
            raise ValueError(f"Invalid functional model config: no layer named '{layer_name}'.")
        calls = created[layer_name]._calls
        if node_index >= len(calls):
            raise _NotYetCreated
        return calls[node_index].outputs[tensor_index]

    def resolve(value):
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                return tensor(*value["config"]["keras_history"])
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [resolve(v) for v in value]
        return value

    def replay(layer, node):
        if isinstance(node, list):  # Keras 2: [[layer name, node, tensor, kwargs], ...]
            inputs = [tensor(*entry[:3]) for entry in node]
            kwargs = dict(node[0][3]) if node and len(node[0]) > 3 else {}
            layer(inputs[0] if len(inputs) == 1 else inputs, **kwargs)
        else:
            layer(*resolve(node.get("args", [])), **resolve(node.get("kwargs", {})))

    for layer_config in _without_unused_ops(config):
        layer = deserialize_layer(layer_config, custom_objects)
        name = layer_config.get("name", layer.name)
        created[name] = layer
        pending[name] = list(layer_config.get("inbound_nodes") or [])
    while any(pending.values()):
        progressed = False
        for name, nodes in pending.items():
            while nodes:
                try:
                    replay(created[name], nodes[0])
                except _NotYetCreated:
                    break
                nodes.pop(0)
                progressed = True
        if not progressed:
            stuck = sorted(name for name, nodes in pending.items() if nodes)
            raise ValueError("Invalid functional model config: the graph has a loop or a "
                             f"disconnected node; could not resolve the calls of {stuck}.")

    def outputs_of(structure):
        if _is_history(structure):
            return tensor(*structure)
        if isinstance(structure, dict):
            return {k: outputs_of(v) for k, v in structure.items()}
        return [outputs_of(v) for v in structure]

    kwargs = {}
    if config.get("trainable") is not None:
        kwargs["trainable"] = config["trainable"]
    return cls(inputs=outputs_of(config["input_layers"]),
               outputs=outputs_of(config["output_layers"]), name=config.get("name"), **kwargs)


# -- sequential --------------------------------------------------------------------
def sequential_get_config(model):
    from ember.layers.layer import DTYPE_POLICY_CONFIG

    layers = []
    built = model._core is not None and model._input_layer is not None
    if built:
        layers.append(serialization_lib.serialize_layer(model._input_layer))
    layers.extend(serialization_lib.serialize_layer(layer) for layer in model._stack)
    config = {"name": model.name, "trainable": model.trainable,
              "dtype": dict(DTYPE_POLICY_CONFIG), "layers": layers}
    if built:
        config["build_input_shape"] = (model._input_layer.batch_size,) + model._input_layer.shape
    return config


def sequential_from_config(cls, config, custom_objects=None):
    if "name" not in config or "layers" not in config:
        raise ValueError("A Sequential model configuration must be a dictionary containing the "
                         f"'name' and 'layers' keys. Received: config={config}")
    model = cls(name=config["name"])
    for layer_config in config["layers"]:
        model.add(deserialize_layer(layer_config, custom_objects), rebuild=False)
    model._maybe_rebuild()
    shape = config.get("build_input_shape")
    if model._core is None and shape:
        model.build(tuple(shape))
    return model


# -- compile arguments -------------------------------------------------------------
def get_compile_config(model):
    """What `compile` was given, serialized as Keras 3 writes it ({} if not compiled)."""
    if not model.compiled:
        return {}
    cc = model._compile_config
    return serialize_keras_object({
        "optimizer": model.optimizer,
        "loss": cc.get("loss"),
        "loss_weights": cc.get("loss_weights"),
        "metrics": cc.get("metrics"),
        "weighted_metrics": cc.get("weighted_metrics"),
        "run_eagerly": cc.get("run_eagerly", False),
        "steps_per_execution": cc.get("steps_per_execution", 1),
        "jit_compile": cc.get("jit_compile", "auto"),
    })


def compile_from_config(model, config):
    config = serialization_lib.deserialize_keras_object(config)
    model.compile(**config)
