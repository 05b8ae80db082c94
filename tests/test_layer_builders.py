"""The engine's layer builders (cpp/include/ember/layer_builder.h) are the one mapping from a
Keras layer config to ops (issue 12): every built-in layer Python builds goes through them, and
the weights each layer makes in Python are those the builders expect for its config, in Keras's
order and shapes (what the C++ model loader checks a file's arrays against)."""

import inspect
import json
import warnings

import ember
import numpy as np
import pytest
from ember import _core
from ember.layers.layer import Layer

L = ember.layers

# (a layer, the input row shape(s) it is called on); at least one per built-in class.
EXAMPLES = [
    (lambda: L.Dense(4), [(6,)]),
    (lambda: L.Dense(3, use_bias=False, activation="softmax"), [(2, 5)]),
    (lambda: L.Activation("tanh"), [(3,)]),
    (lambda: L.Identity(), [(3,)]),
    (lambda: L.Dropout(0.3, noise_shape=(None, 1, 4)), [(2, 4)]),
    (lambda: L.SpatialDropout1D(0.2), [(5, 3)]),
    (lambda: L.SpatialDropout2D(0.2, data_format="channels_first"), [(3, 4, 4)]),
    (lambda: L.SpatialDropout3D(0.2), [(2, 2, 2, 3)]),
    (lambda: L.GaussianNoise(0.1), [(3,)]),
    (lambda: L.GaussianDropout(0.2), [(3,)]),
    (lambda: L.AlphaDropout(0.2, noise_shape=(None, 1, 3)), [(2, 3)]),
    (lambda: L.ActivityRegularization(l1=0.1, l2=0.2), [(3,)]),
    (lambda: L.Flatten(), [(2, 3)]),
    (lambda: L.Reshape((3, -1)), [(6,)]),
    (lambda: L.Permute((2, 1)), [(2, 3)]),
    (lambda: L.RepeatVector(3), [(4,)]),
    (lambda: L.ZeroPadding1D((1, 2)), [(4, 3)]),
    (lambda: L.ZeroPadding2D(((1, 0), (2, 1))), [(4, 4, 2)]),
    (lambda: L.ZeroPadding3D(1), [(2, 2, 2, 1)]),
    (lambda: L.Cropping1D((1, 1)), [(4, 3)]),
    (lambda: L.Cropping2D(((1, 0), (0, 1)), data_format="channels_first"), [(2, 4, 4)]),
    (lambda: L.Cropping3D(1), [(3, 3, 3, 1)]),
    (lambda: L.UpSampling1D(3), [(2, 3)]),
    (lambda: L.UpSampling2D((2, 3), interpolation="bilinear"), [(2, 2, 1)]),
    (lambda: L.UpSampling3D((1, 2, 2)), [(2, 2, 2, 1)]),
    (lambda: L.Add(), [(3,), (3,)]),
    (lambda: L.Subtract(), [(3,), (3,)]),
    (lambda: L.Multiply(), [(3,), (3,), (3,)]),
    (lambda: L.Average(), [(3,), (3,)]),
    (lambda: L.Maximum(), [(3,), (3,)]),
    (lambda: L.Minimum(), [(3,), (3,)]),
    (lambda: L.Concatenate(axis=1), [(2, 3), (4, 3)]),
    (lambda: L.Dot(axes=(1, 2), normalize=True), [(3, 5), (4, 3)]),
    (lambda: L.BatchNormalization(axis=1), [(3, 5)]),
    (lambda: L.BatchNormalization(center=False), [(4,)]),
    (lambda: L.LayerNormalization(axis=[-1, -2]), [(3, 5)]),
    (lambda: L.LayerNormalization(rms_scaling=True), [(4,)]),
    (lambda: L.Normalization(axis=-1), [(2, 3)]),
    (lambda: L.UnitNormalization(axis=[1, 2]), [(2, 3)]),
    (lambda: L.RMSNormalization(axis=[-1, 1]), [(2, 3)]),
    (lambda: L.GroupNormalization(groups=2, axis=1, center=False), [(4, 3)]),
    (lambda: L.GroupNormalization(groups=-1), [(3, 2)]),
    (lambda: L.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0]), [(2,)]),
    (lambda: L.Conv1D(4, 3, padding="causal"), [(8, 2)]),
    (lambda: L.Conv2D(4, (3, 2), groups=2, data_format="channels_first"), [(2, 6, 5)]),
    (lambda: L.Conv1DTranspose(3, 2, strides=2), [(4, 2)]),
    (lambda: L.Conv2DTranspose(2, 3, output_padding=1, strides=2), [(3, 3, 2)]),
    (lambda: L.DepthwiseConv1D(3, depth_multiplier=2), [(6, 2)]),
    (lambda: L.DepthwiseConv2D(2, use_bias=False), [(4, 4, 3)]),
    (lambda: L.SeparableConv1D(4, 3, depth_multiplier=2), [(6, 3)]),
    (lambda: L.SeparableConv2D(2, 2), [(4, 4, 3)]),
    (lambda: L.MaxPooling1D(2), [(6, 2)]),
    (lambda: L.MaxPooling2D((2, 2), padding="same"), [(5, 5, 1)]),
    (lambda: L.AveragePooling1D(3, strides=1), [(6, 2)]),
    (lambda: L.AveragePooling2D(2, data_format="channels_first"), [(1, 4, 4)]),
    (lambda: L.GlobalMaxPooling1D(), [(4, 2)]),
    (lambda: L.GlobalMaxPooling2D(keepdims=True), [(3, 3, 2)]),
    (lambda: L.GlobalAveragePooling1D(), [(4, 2)]),
    (lambda: L.GlobalAveragePooling2D(), [(3, 3, 2)]),
    (lambda: L.Embedding(10, 3), [(4,)]),
    (lambda: L.SimpleRNN(3, return_sequences=True), [(5, 2)]),
    (lambda: L.LSTM(3, return_state=True, use_bias=False), [(5, 2)]),
    (lambda: L.GRU(2), [(4, 3)]),
    (lambda: L.GRU(2, reset_after=False, implementation=1, dropout=0.1), [(4, 3)]),
    (lambda: L.Bidirectional(L.LSTM(2, return_sequences=True)), [(4, 3)]),
    (lambda: L.Bidirectional(L.GRU(2), merge_mode="sum",
                             backward_layer=L.GRU(2, go_backwards=True)), [(4, 3)]),
    (lambda: L.TimeDistributed(L.Dense(3)), [(4, 2)]),
    (lambda: L.TimeDistributed(L.Conv1D(2, 2)), [(3, 5, 2)]),
    (lambda: L.Masking(0.0), [(4, 2)]),
    (lambda: L.ReLU(max_value=2.0, negative_slope=0.1), [(3,)]),
    (lambda: L.LeakyReLU(0.2), [(3,)]),
    (lambda: L.ELU(0.5), [(3,)]),
    (lambda: L.Softmax(axis=[1, 2]), [(2, 3)]),
    (lambda: L.PReLU(shared_axes=[1]), [(3, 4)]),
]


def _engine_classes():
    classes = set()
    for value in vars(L).values():
        if inspect.isclass(value) and issubclass(value, Layer) and value._engine_class:
            classes.add(value._engine_class)
    return classes


def _call(layer, rows):
    inputs = [ember.Input(row) for row in rows]
    layer(inputs if len(inputs) > 1 else inputs[0])


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
def test_every_built_in_layer_the_engine_builds_is_exemplified():
    covered = {make()._engine_class for make, _ in EXAMPLES}
    assert _engine_classes() == covered
    assert covered <= set(_core.layer_builder_names())


def _example_ids():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LayerNormalization(rms_scaling=True) is deprecated
        return [f"{make().__class__.__name__}-{i}" for i, (make, _) in enumerate(EXAMPLES)]


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize("make, rows", EXAMPLES, ids=_example_ids())
def test_python_weights_are_the_builders_weight_specs(make, rows):
    layer = make()
    _call(layer, rows)
    specs = _core.layer_weight_specs(layer._engine_class, json.dumps(layer.get_config()),
                                     [list(r) for r in rows])
    assert [(name, tuple(shape)) for name, shape in specs] == \
        [(w.name.split("/")[-1], tuple(w.shape)) for w in layer.weights]


def test_a_model_graph_names_its_nodes_after_the_layers():
    model = ember.Sequential([ember.Input((4,)), L.Dense(3, activation="relu", name="h"),
                              L.Dropout(0.5, name="drop"), L.Dense(2, name="out")])
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    h = model.layers[0]
    want = np.maximum(x @ h.kernel.numpy() + h.bias.numpy(), 0)
    out = model.layers[2]
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               want @ out.kernel.numpy() + out.bias.numpy(), rtol=1e-5,
                               atol=1e-6)


def test_bad_config_from_python_names_the_layer():
    graph = _core.Graph()
    node = graph.add_input([3], "x")
    with pytest.raises(ValueError, match="Dense layer 'd'.*'units'"):
        _core.build_layer(graph, "Dense", json.dumps({"name": "d"}), [], [node], [-1], [False])
    with pytest.raises(ValueError, match="unknown layer class 'Nope'"):
        _core.build_layer(graph, "Nope", json.dumps({"name": "n"}), [], [node], [-1], [False])
    with pytest.raises(ValueError, match="not valid JSON"):
        _core.build_layer(graph, "Dense", "{", [], [node], [-1], [False])
