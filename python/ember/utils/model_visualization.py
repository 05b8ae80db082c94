"""`plot_model` and `model_to_dot`: a model's layer graph drawn by Graphviz, as Keras draws it.

The graph goes through pydot to Graphviz's `dot` program, both optional: pydot from
PyPI (`pip install "ember[plot]"`), Graphviz from the system (`apt-get install
graphviz`). Each layer is a node labelled with an HTML-like table (name, class,
and on request shapes, dtype, activation, trainability); each edge is one tensor
passed from a layer to another, taken from the calls that build this model, so a
layer shared with another model contributes only its calls here.
"""

import html
import os
import sys

__all__ = ["model_to_dot", "plot_model"]


def _pydot():
    try:
        import pydot
    except ImportError:
        raise ImportError("You must install pydot (`pip install pydot`, or `pip install "
                          "\"ember[plot]\"`) for `plot_model` to work.") from None
    return pydot


def _check_graphviz(pydot):
    try:
        pydot.Dot.create(pydot.Dot())
    except (OSError, pydot.PydotException) as e:
        raise ImportError("You must install graphviz (on Debian or Ubuntu: `apt-get install "
                          "graphviz`; elsewhere see https://graphviz.org/download/) for "
                          f"`plot_model` to work: its `dot` program was not found ({e}).") from None


def _is_model(layer):
    from ember.models import Model
    return isinstance(layer, Model)


def _is_sequential(layer):
    from ember.models import Sequential
    return isinstance(layer, Sequential)


def _own_calls(model):
    """The layer calls that make up `model`, inputs first."""
    from ember.models.functional import calls_in_order
    return calls_in_order(model.outputs)


def _shape_text(tensors):
    shapes = [t.shape for t in tensors]
    if not shapes:
        return "?"
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _activation_name(activation):
    return getattr(activation, "name", None) or getattr(activation, "__name__", None) \
        or str(activation)


def _label(layer, call, show_shapes, show_dtype, show_layer_names, show_layer_activations,
           show_trainable):
    """Keras's node label: a black title row, then a row of the requested details."""
    class_name = type(layer).__name__
    cols = []
    if show_shapes:
        if class_name != "InputLayer":
            text = _shape_text(call.inputs) if call else "?"
            cols.append(f'<td bgcolor="white"><font point-size="14">Input shape: '
                        f'<b>{html.escape(text)}</b></font></td>')
        text = _shape_text(call.outputs) if call else "?"
        cols.append(f'<td bgcolor="white"><font point-size="14">Output shape: '
                    f'<b>{html.escape(text)}</b></font></td>')
    if show_dtype:
        dtype = call.outputs[0].dtype if call and call.outputs else "?"
        cols.append(f'<td bgcolor="white"><font point-size="14">Output dtype: '
                    f'<b>{dtype}</b></font></td>')
    if show_trainable and layer.weights:
        if layer.trainable:
            cols.append('<td bgcolor="forestgreen"><font point-size="14" color="white">'
                        '<b>Trainable</b></font></td>')
        else:
            cols.append('<td bgcolor="firebrick"><font point-size="14" color="white">'
                        '<b>Non-trainable</b></font></td>')
    colspan = max(1, int(show_dtype) + int(show_trainable) + 2 * int(show_shapes))
    title = (f"<b>{html.escape(layer.name)}</b> ({class_name})" if show_layer_names
             else f"<b>{class_name}</b>")
    rows = [f'<tr><td colspan="{colspan}" bgcolor="black"><font point-size="16" '
            f'color="white">{title}</font></td></tr>']
    activation = getattr(layer, "activation", None)
    if show_layer_activations and activation is not None:
        rows.append(f'<tr><td bgcolor="white" colspan="{colspan}"><font point-size="14">'
                    f'Activation: <b>{html.escape(_activation_name(activation))}</b>'
                    '</font></td></tr>')
    if cols:
        rows.append(f"<tr>{''.join(cols)}</tr>")
    return ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
            + "".join(rows) + "</table>>")


def _add_edge(pydot, dot, src, dst):
    src_id, dst_id = str(id(src)), str(id(dst))
    if not dot.get_edge(src_id, dst_id):
        dot.add_edge(pydot.Edge(src_id, dst_id, penwidth="2"))


def _entry(model, input_index):
    """The node an edge into a nested model ends at, when it is drawn expanded."""
    while _is_model(model):
        model = model.layers[0] if _is_sequential(model) else \
            model.inputs[input_index]._call.layer
    return model


def _exit(tensor):
    """The layer that produced `tensor`, looking inside nested models."""
    layer = tensor._call.layer
    while _is_model(layer):
        tensor = layer.outputs[tensor._call.outputs.index(tensor)]
        layer = tensor._call.layer
    return layer


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, splines="ortho",
                 **kwargs):
    """The model's graph as a `pydot.Dot` (a `pydot.Cluster` when `subgraph=True`)."""
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"`rankdir` must be one of 'TB', 'LR', 'BT', 'RL', got {rankdir!r}")
    if not getattr(model, "built", False) or not getattr(model, "outputs", None):
        raise ValueError("This model has not yet been built. Build the model first by calling "
                         "`build()` or by calling the model on a batch of data.")
    pydot = _pydot()
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")
    options = dict(show_shapes=show_shapes, show_dtype=show_dtype,
                   show_layer_names=show_layer_names,
                   show_layer_activations=show_layer_activations, show_trainable=show_trainable)

    calls = _own_calls(model)
    first_call = {}
    for call in calls:
        first_call.setdefault(id(call.layer), call)
    # Keras draws a Sequential without its input layer.
    layers = model.layers if _is_sequential(model) else [call.layer for call in calls
                                                          if first_call[id(call.layer)] is call]
    for layer in layers:
        if expand_nested and _is_model(layer):
            dot.add_subgraph(model_to_dot(layer, rankdir=rankdir, expand_nested=True,
                                          subgraph=True, **options))
        else:
            node = pydot.Node(str(id(layer)),
                              label=_label(layer, first_call.get(id(layer)), **options))
            node.set("fontname", "Helvetica")
            node.set("border", "0")
            node.set("margin", "0")
            dot.add_node(node)

    if _is_sequential(model):
        for before, after in zip(layers, layers[1:]):
            _add_edge(pydot, dot, _exit(before.output) if expand_nested else before,
                      _entry(after, 0) if expand_nested else after)
        return dot
    for call in calls:
        for input_index, tensor in enumerate(call.inputs):
            if expand_nested:
                _add_edge(pydot, dot, _exit(tensor), _entry(call.layer, input_index))
            else:
                _add_edge(pydot, dot, tensor._call.layer, call.layer)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho", **kwargs):
    """Draws the model's graph into `to_file` (its extension picks the format: png, svg,
    pdf, dot, ...) through pydot and Graphviz, as `keras.utils.plot_model` does.

    Returns an `IPython.display.Image` (or `SVG`) of it when IPython is running, so a
    notebook shows it. Raises ImportError naming pydot or Graphviz when one is
    missing.
    """
    pydot = _pydot()
    _check_graphviz(pydot)
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, splines=splines, **kwargs)
    from ember.saving.file_utils import atomic_path

    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    with atomic_path(to_file) as partial:
        dot.write(partial, format=extension)
    if "IPython" not in sys.modules:
        return None
    from IPython import display
    if extension == "svg":
        return display.SVG(filename=to_file)
    if extension in ("png", "jpg", "jpeg", "gif"):
        return display.Image(filename=to_file)
    return None
