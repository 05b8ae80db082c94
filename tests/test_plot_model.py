"""`ember.utils.plot_model` / `model_to_dot` against Keras 3's on the same architectures:
the same nodes (layer names and classes) and the same edges, then a real PNG from
Graphviz."""

import os
import re

import ember
import pytest

pydot = pytest.importorskip("pydot", reason="plot_model draws through pydot (installed by "
                            "the `test` extra)")


def graph_of(dot):
    """({layer name: class}, {(from, to)}) read from the DOT text."""
    text = dot.to_string()
    found = re.findall(r'^"?(\d+)"? \[label=<.*?<b>([^<]+)</b> \((\w+)\)', text, re.M)
    nodes = {node_id: (name, cls) for node_id, name, cls in found}
    edges = {(nodes[a][0], nodes[b][0])
             for a, b in re.findall(r'^"?(\d+)"? -> "?(\d+)"?', text, re.M)}
    return {name: cls for name, cls in nodes.values()}, edges


def shared_layer_model(lib):
    a, b = lib.Input(shape=(6,), name="a"), lib.Input(shape=(6,), name="b")
    shared = lib.layers.Dense(4, activation="relu", name="shared")
    ha, hb = shared(a), shared(b)
    merged = lib.layers.Concatenate(name="merged")([ha, hb])
    out1 = lib.layers.Dense(1, name="out1")(merged)
    out2 = lib.layers.Dense(3, activation="softmax", name="out2")(lib.layers.Add(name="add")(
        [hb, lib.layers.Dense(4, name="skip")(a)]))
    return lib.Model([a, b], [out1, out2], name="shared_model")


def nested_model(lib):
    inner = lib.Sequential([lib.Input(shape=(5,)), lib.layers.Dense(7, name="inner_1"),
                            lib.layers.Dense(7, name="inner_2")], name="inner")
    x = lib.Input(shape=(5,), name="x")
    h = inner(x)
    return lib.Model(x, lib.layers.Dense(2, name="head")(h), name="outer")


def test_shared_layer_functional_model_has_every_layer_and_edge(keras):
    nodes, edges = graph_of(ember.utils.model_to_dot(shared_layer_model(ember)))
    assert nodes == {"a": "InputLayer", "b": "InputLayer", "shared": "Dense",
                     "merged": "Concatenate", "out1": "Dense", "skip": "Dense", "add": "Add",
                     "out2": "Dense"}
    assert edges == {("a", "shared"), ("b", "shared"), ("shared", "merged"), ("merged", "out1"),
                     ("a", "skip"), ("shared", "add"), ("skip", "add"), ("add", "out2")}
    assert graph_of(keras.utils.model_to_dot(shared_layer_model(keras))) == (nodes, edges)


@pytest.mark.parametrize("expand_nested", [False, True])
def test_sequential_and_nested_models_match_keras(keras, expand_nested):
    for build in (nested_model,
                  lambda lib: lib.Sequential([lib.Input(shape=(3,)), lib.layers.Dense(4, name="d1"),
                                              lib.layers.Dropout(0.5, name="drop"),
                                              lib.layers.Dense(1, name="d2")])):
        ours = graph_of(ember.utils.model_to_dot(build(ember), expand_nested=expand_nested))
        theirs = graph_of(keras.utils.model_to_dot(build(keras), expand_nested=expand_nested))
        assert ours == theirs


def test_labels_carry_shapes_activations_and_trainability():
    model = shared_layer_model(ember)
    model.get_layer("skip").trainable = False
    text = ember.utils.model_to_dot(model, show_shapes=True, show_dtype=True,
                                    show_layer_activations=True, show_trainable=True).to_string()
    assert "Input shape: <b>[(None, 4), (None, 4)]</b>" in text  # merged
    assert "Output shape: <b>(None, 8)</b>" in text
    assert "Activation: <b>softmax</b>" in text and "Output dtype: <b>float32</b>" in text
    assert "Non-trainable" in text and ">Trainable<" in text.replace("<b>", "").replace("</b>", "")


def test_plot_model_writes_the_picture(tmp_path):
    model = shared_layer_model(ember)
    if os.system("dot -V > /dev/null 2>&1") != 0:
        pytest.skip("Graphviz's dot is not installed: `bash .ci/install-system-deps`")
    png = tmp_path / "model.png"
    ember.utils.plot_model(model, to_file=png, show_shapes=True, show_layer_names=True, dpi=50)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    svg = tmp_path / "model.svg"
    ember.utils.plot_model(nested_model(ember), to_file=svg, expand_nested=True,
                           show_layer_names=True)
    assert "inner_2" in svg.read_text()
    assert sorted(os.listdir(tmp_path)) == ["model.png", "model.svg"]


def test_missing_graphviz_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to be found
    with pytest.raises(ImportError, match="graphviz"):
        ember.utils.plot_model(shared_layer_model(ember), to_file=tmp_path / "m.png")
    assert os.listdir(tmp_path) == []


def test_bad_arguments_raise():
    model = shared_layer_model(ember)
    with pytest.raises(ValueError, match="layer_range"):
        ember.utils.model_to_dot(model, layer_range=["a", "b"])
    with pytest.raises(ValueError, match="rankdir"):
        ember.utils.model_to_dot(model, rankdir="UP")
    with pytest.raises(ValueError, match="not yet been built"):
        ember.utils.model_to_dot(ember.Sequential([ember.layers.Dense(2)]))
