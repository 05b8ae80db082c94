"""Convolution layers against Keras 3 (jax) and a float64 NumPy reference: forward and
training parity from the same weights over a grid of options, the kernel's values and
gradients against a direct convolution written plainly, files both ways, Keras 2's .h5,
configs, bad input, and a small CNN on scikit-learn's 8x8 digits."""

import json

import ember
import h5py
import numpy as np
import pytest
from parity import assert_weights_close

FORWARD_TOL = {"rtol": 1e-5, "atol": 2e-6}
WEIGHTS_TOL = {"rtol": 1e-5, "atol": 2e-6}


def randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32")
                       for w in model.get_weights()])


def predict(model, x):
    out = model.predict(x, verbose=0) if isinstance(model, ember.Model) else model(x)
    return np.asarray(out)


# name: (layer class, arguments, input shape without the batch axis)
LAYERS = {
    "conv2d_valid": ("Conv2D", {"filters": 4, "kernel_size": 3}, (7, 6, 3)),
    "conv2d_same_strides_relu": ("Conv2D", {"filters": 5, "kernel_size": (3, 2), "strides": 2,
                                            "padding": "same", "activation": "relu"}, (7, 8, 2)),
    "conv2d_dilation_tanh": ("Conv2D", {"filters": 3, "kernel_size": 3, "dilation_rate": 2,
                                        "activation": "tanh"}, (9, 8, 2)),
    "conv2d_groups": ("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 2,
                                 "padding": "same"}, (6, 5, 4)),
    "conv2d_channels_first": ("Conv2D", {"filters": 4, "kernel_size": (2, 3), "strides": (2, 1),
                                         "data_format": "channels_first", "use_bias": False},
                              (3, 7, 6)),
    "conv2d_1x1_softmax": ("Conv2D", {"filters": 4, "kernel_size": 1, "activation": "softmax"},
                           (5, 4, 3)),
    "conv1d_valid": ("Conv1D", {"filters": 4, "kernel_size": 3}, (10, 3)),
    "conv1d_causal_dilation": ("Conv1D", {"filters": 3, "kernel_size": 3, "padding": "causal",
                                          "dilation_rate": 2, "activation": "sigmoid"}, (9, 2)),
    "conv1d_same_strides_cf": ("Conv1D", {"filters": 3, "kernel_size": 4, "strides": 3,
                                          "padding": "same", "data_format": "channels_first"},
                               (2, 11)),
    "conv1d_groups": ("Conv1D", {"filters": 4, "kernel_size": 2, "groups": 2}, (6, 4)),
    "conv2d_transpose_valid": ("Conv2DTranspose", {"filters": 3, "kernel_size": 3}, (4, 5, 2)),
    "conv2d_transpose_same_strides": ("Conv2DTranspose", {"filters": 2, "kernel_size": 3,
                                                          "strides": 2, "padding": "same",
                                                          "activation": "tanh"}, (4, 3, 3)),
    "conv2d_transpose_output_padding": ("Conv2DTranspose", {"filters": 2, "kernel_size": (3, 2),
                                                            "strides": (2, 3),
                                                            "output_padding": (1, 2)},
                                        (3, 3, 2)),
    "conv2d_transpose_same_output_padding_cf": (
        "Conv2DTranspose", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same",
                            "output_padding": 1, "data_format": "channels_first"}, (2, 3, 4)),
    "conv2d_transpose_dilation": ("Conv2DTranspose", {"filters": 2, "kernel_size": 2,
                                                      "dilation_rate": 2}, (4, 4, 3)),
    "conv1d_transpose_strides": ("Conv1DTranspose", {"filters": 3, "kernel_size": 3,
                                                     "strides": 2}, (5, 2)),
    "conv1d_transpose_same": ("Conv1DTranspose", {"filters": 2, "kernel_size": 4, "strides": 3,
                                                  "padding": "same"}, (4, 3)),
    "depthwise2d": ("DepthwiseConv2D", {"kernel_size": 3}, (6, 5, 3)),
    "depthwise2d_multiplier_same_strides": ("DepthwiseConv2D",
                                            {"kernel_size": (3, 2), "depth_multiplier": 2,
                                             "strides": 2, "padding": "same",
                                             "activation": "relu"}, (7, 6, 2)),
    "depthwise2d_channels_first_dilation": ("DepthwiseConv2D",
                                            {"kernel_size": 2, "dilation_rate": 2,
                                             "data_format": "channels_first"}, (3, 6, 5)),
    "depthwise1d": ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2}, (8, 3)),
    "separable2d": ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, (6, 6, 3)),
    "separable2d_multiplier_same_strides": ("SeparableConv2D",
                                            {"filters": 3, "kernel_size": 3, "strides": 2,
                                             "padding": "same", "depth_multiplier": 2,
                                             "activation": "relu"}, (7, 5, 2)),
    "separable2d_channels_first": ("SeparableConv2D", {"filters": 2, "kernel_size": 2,
                                                       "data_format": "channels_first",
                                                       "use_bias": False}, (3, 5, 4)),
    "separable1d": ("SeparableConv1D", {"filters": 3, "kernel_size": 3, "dilation_rate": 2},
                    (9, 2)),
}


def zero_initialized(cls, kwargs):
    """kwargs with every initializer "zeros": the tests set random weights anyway, and jax
    compiles its random initializers afresh for every kernel shape (seconds each)."""
    kinds = {"DepthwiseConv": ("depthwise",), "SeparableConv": ("depthwise", "pointwise")}
    names = next((v for k, v in kinds.items() if cls.startswith(k)), ("kernel",))
    return dict(kwargs, bias_initializer="zeros",
                **{f"{n}_initializer": "zeros" for n in names})


def single_layer(lib, name):
    cls, kwargs, shape = LAYERS[name]
    return lib.Sequential([lib.Input(shape), getattr(lib.layers, cls)(**zero_initialized(cls,
                                                                                         kwargs))])


@pytest.mark.parametrize("name", list(LAYERS))
def test_forward_matches_keras(keras, rng, name):
    keras_model, ember_model = single_layer(keras, name), single_layer(ember, name)
    assert [w.shape for w in ember_model.weights] == [tuple(w.shape)
                                                      for w in keras_model.weights]
    assert [w.path.split("/")[-1] for w in ember_model.weights] == [
        w.path.split("/")[-1] for w in keras_model.weights]
    randomize(keras_model, rng)
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(5,) + LAYERS[name][2]).astype("float32")
    expected = predict(keras_model, x)
    got = predict(ember_model, x)
    assert got.shape == expected.shape == (5,) + tuple(ember_model.outputs[0].shape[1:])
    np.testing.assert_allclose(got, expected, **FORWARD_TOL)


# Training: every layer kind in one stack per rank (so each layer's input gradient trains the
# layers before it), then Flatten and Dense, for two unshuffled epochs of Adam. One model per
# rank keeps Keras's jit compilations (seconds each) to two.
def training_stack_2d(lib):
    L = lib.layers
    z = {"bias_initializer": "zeros"}
    return lib.Sequential([
        lib.Input((9, 8, 2)),
        L.Conv2D(4, 3, strides=2, padding="same", activation="tanh", kernel_initializer="zeros",
                 **z),
        L.Conv2D(4, (2, 3), groups=2, padding="same", activation="relu",
                 kernel_initializer="zeros", **z),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="tanh",
                          depthwise_initializer="zeros", **z),
        L.SeparableConv2D(3, 2, dilation_rate=2, padding="same", activation="relu",
                          depthwise_initializer="zeros", pointwise_initializer="zeros", **z),
        L.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1, activation="tanh",
                          kernel_initializer="zeros", **z),
        L.Conv2D(2, 3, strides=(2, 1), data_format="channels_first",
                 kernel_initializer="zeros", **z),
        L.Conv2DTranspose(2, 2, data_format="channels_first", kernel_initializer="zeros", **z),
        L.Flatten(),
        L.Dense(3, activation="softmax", kernel_initializer="zeros"),
    ])


def training_stack_1d(lib):
    L = lib.layers
    z = {"bias_initializer": "zeros"}
    return lib.Sequential([
        lib.Input((12, 4)),
        L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="tanh",
                 kernel_initializer="zeros", **z),
        L.Conv1D(4, 2, groups=2, strides=2, activation="relu", kernel_initializer="zeros", **z),
        L.Conv1DTranspose(3, 3, strides=2, activation="tanh", kernel_initializer="zeros", **z),
        L.DepthwiseConv1D(2, depth_multiplier=2, data_format="channels_first",
                          depthwise_initializer="zeros", **z),
        L.SeparableConv1D(2, 3, padding="same", depthwise_initializer="zeros",
                          pointwise_initializer="zeros", **z),
        L.Flatten(),
        L.Dense(3, activation="softmax", kernel_initializer="zeros"),
    ])


@pytest.mark.parametrize("build", [training_stack_2d, training_stack_1d])
def test_training_matches_keras(keras, rng, build):
    keras_model, ember_model = build(keras), build(ember)
    randomize(keras_model, rng, scale=0.3)
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(20,) + tuple(keras_model.inputs[0].shape[1:])).astype("float32")
    y = rng.integers(0, 3, size=20)
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile(lib.optimizers.Adam(learning_rate=0.01), "sparse_categorical_crossentropy")
    fit = {"batch_size": 8, "epochs": 2, "shuffle": False, "verbose": 0}
    keras_loss = keras_model.fit(x, y, **fit).history["loss"]
    ember_loss = ember_model.fit(x, y, **fit).history["loss"]
    np.testing.assert_allclose(ember_loss, keras_loss, rtol=2e-5)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights()):
        assert_weights_close(e, k, **WEIGHTS_TOL)


def test_training_in_chunks_of_images_matches_keras(keras, rng):
    """The MNIST convnet's second convolution at batch 48: its columns take more than the op's
    cache budget, so each batch runs in chunks of images (forward and backward).

    tanh, not the convnet's relu: with 743k pre-activations a few land within float32 rounding
    of zero, and a relu that flips there in one library and not the other moves the first
    kernel by ~1e-4 (4 seeds in 10 did). A smooth activation keeps the two within rounding."""
    def build(lib):
        L = lib.layers
        return lib.Sequential([
            lib.Input((13, 13, 32)),
            L.Conv2D(16, 1, kernel_initializer="zeros"),
            L.Conv2D(64, 3, activation="tanh", kernel_initializer="zeros"),
            L.Flatten(), L.Dense(10, activation="softmax", kernel_initializer="zeros")])

    keras_model, ember_model = build(keras), build(ember)
    randomize(keras_model, rng, scale=0.05)
    ember_model.set_weights(keras_model.get_weights())
    x = rng.normal(size=(96, 13, 13, 32)).astype("float32")
    y = rng.integers(0, 10, size=96)
    np.testing.assert_allclose(predict(ember_model, x), predict(keras_model, x), **FORWARD_TOL)
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile(lib.optimizers.SGD(learning_rate=0.05), "sparse_categorical_crossentropy")
    fit = {"batch_size": 48, "epochs": 2, "shuffle": False, "verbose": 0}
    keras_loss = keras_model.fit(x, y, **fit).history["loss"]
    ember_loss = ember_model.fit(x, y, **fit).history["loss"]
    np.testing.assert_allclose(ember_loss, keras_loss, rtol=2e-5)
    for e, k in zip(ember_model.get_weights(), keras_model.get_weights()):
        assert_weights_close(e, k, **WEIGHTS_TOL)


# -- the kernel against a float64 direct convolution ------------------------------------------
def direct_conv2d(x, w, b, strides, dilation, pads):
    """Channels-last 2-D convolution by its definition, in float64: for every kernel offset
    (i, j), the shifted, strided input times that offset's (in, out) matrix."""
    x = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)))
    kh, kw = w.shape[:2]
    oh = (x.shape[1] - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    ow = (x.shape[2] - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    y = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i * dilation[0]: i * dilation[0] + (oh - 1) * strides[0] + 1: strides[0],
                      j * dilation[1]: j * dilation[1] + (ow - 1) * strides[1] + 1: strides[1]]
            y += patch @ w[i, j].astype(np.float64)
    return y + b


def direct_conv2d_grads(x, w, dy, strides, dilation, pads):
    """dW, db and dx of direct_conv2d for an upstream gradient dy, in float64."""
    xp = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)))
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    kh, kw = w.shape[:2]
    oh, ow = dy.shape[1:3]
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dilation[0], i * dilation[0] + (oh - 1) * strides[0] + 1, strides[0])
            cols = slice(j * dilation[1], j * dilation[1] + (ow - 1) * strides[1] + 1, strides[1])
            dw[i, j] = np.einsum("nhwc,nhwf->cf", xp[:, rows, cols], dy)
            dxp[:, rows, cols] += dy @ w[i, j].astype(np.float64).T
    h, wd = x.shape[1:3]
    dx = dxp[:, pads[0][0]: pads[0][0] + h, pads[1][0]: pads[1][0] + wd]
    return dw, dy.sum(axis=(0, 1, 2)), dx


# (kernel, strides, dilation, padding, the padding XLA's SAME gives for a (9, 8) input)
KERNEL_CASES = [((3, 3), (1, 1), (1, 1), "valid", ((0, 0), (0, 0))),
                ((3, 2), (2, 3), (1, 1), "same", ((1, 1), (0, 1))),
                ((2, 3), (1, 1), (2, 3), "same", ((1, 1), (3, 3))),
                ((4, 4), (2, 2), (1, 1), "same", ((1, 2), (1, 1)))]


@pytest.mark.parametrize("kernel,strides,dilation,padding,pads", KERNEL_CASES)
def test_conv2d_kernel_and_gradients_match_float64(rng, kernel, strides, dilation, padding,
                                                   pads):
    """Forward against the float64 reference; then one SGD step (learning rate 1) on a
    loss whose gradient with respect to the output is a random R: the weight updates are
    -dW and -db, and dx reaches an Identity-like first layer (a 1x1 convolution with an
    identity kernel) as its kernel gradient x^T dx."""
    x = rng.normal(size=(4, 9, 8, 3)).astype("float32")
    layer = ember.layers.Conv2D(5, kernel, strides=strides, dilation_rate=dilation,
                                padding=padding)
    first = ember.layers.Conv2D(3, 1, use_bias=False)
    model = ember.Sequential([ember.Input((9, 8, 3)), first, layer])
    w = rng.normal(size=kernel + (3, 5)).astype("float32")
    b = rng.normal(size=5).astype("float32")
    model.set_weights([np.eye(3, dtype="float32").reshape(1, 1, 3, 3), w, b])
    y = direct_conv2d(x, w, b, strides, dilation, pads)
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=1e-5, atol=1e-5)

    # mean squared error against t: dL/dy = 2 (y - t) / y.size, a random R for a random t.
    t = rng.normal(size=y.shape).astype("float32")
    r = 2.0 * (y - t.astype(np.float64)) / y.size
    dw, db, dx = direct_conv2d_grads(x, w, r, strides, dilation, pads)
    d_first = np.einsum("nhwc,nhwd->cd", x.astype(np.float64), dx).reshape(1, 1, 3, 3)
    model.compile(ember.optimizers.SGD(learning_rate=1.0), "mse")
    model.train_on_batch(x, t)
    first_after, w_after, b_after = model.get_weights()
    np.testing.assert_allclose(w - w_after, dw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b - b_after, db, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.eye(3).reshape(1, 1, 3, 3) - first_after, d_first, rtol=1e-4,
                               atol=1e-6)


# -- files --------------------------------------------------------------------------------
def layer(k, cls, *args, **kwargs):
    """k.layers.<cls> with zero initializers (the tests draw the weights themselves)."""
    return getattr(k.layers, cls)(*args, **zero_initialized(cls, kwargs))


def every_conv_2d(k):
    inputs = k.Input((8, 8, 2), name="image")
    x = layer(k, "Conv2D", 4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = layer(k, "DepthwiseConv2D", 3, depth_multiplier=2, name="depthwise")(x)
    x = layer(k, "SeparableConv2D", 3, 2, strides=2, name="separable")(x)
    x = layer(k, "Conv2DTranspose", 2, 3, strides=2, padding="same", output_padding=1,
              name="transpose")(x)
    x = layer(k, "Conv2D", 2, 2, groups=2, data_format="channels_first", name="grouped_cf")(x)
    x = k.layers.Flatten(name="flat")(x)
    return k.Model(inputs, k.layers.Dense(3, activation="softmax", name="out")(x),
                   name="conv2d_net")


def every_conv_1d(k):
    return k.Sequential([
        k.Input((12, 3), name="seq"),
        layer(k, "Conv1D", 4, 3, padding="causal", dilation_rate=2, name="causal"),
        layer(k, "DepthwiseConv1D", 2, name="depthwise1d"),
        layer(k, "SeparableConv1D", 3, 3, padding="same", name="separable1d"),
        layer(k, "Conv1DTranspose", 2, 3, strides=2, name="transpose1d"),
        k.layers.Flatten(name="flat"),
        k.layers.Dense(2, name="out"),
    ], name="conv1d_net")


@pytest.mark.parametrize("build", [every_conv_2d, every_conv_1d])
def test_files_move_both_ways_with_keras(keras, rng, tmp_path, build):
    x = rng.normal(size=(6,) + tuple(build(ember).inputs[0].shape[1:])).astype("float32")
    ours = build(ember)
    randomize(ours, rng)
    expected = predict(ours, x)
    for ext in (".keras", ".h5"):
        ours.save(tmp_path / f"ember{ext}")
        for reader in (keras, ember):
            loaded = reader.models.load_model(tmp_path / f"ember{ext}", compile=False)
            np.testing.assert_allclose(predict(loaded, x), expected, **FORWARD_TOL)
    ours.save_weights(tmp_path / "ember.weights.h5")
    theirs = build(keras)
    theirs.load_weights(tmp_path / "ember.weights.h5")
    np.testing.assert_allclose(predict(theirs, x), expected, **FORWARD_TOL)

    theirs = build(keras)
    randomize(theirs, rng)
    expected = predict(theirs, x)
    theirs.save(tmp_path / "keras.keras")
    theirs.save_weights(tmp_path / "keras.weights.h5")
    theirs.save(tmp_path / "keras.h5")
    for ext in (".keras", ".h5"):
        loaded = ember.models.load_model(tmp_path / f"keras{ext}", compile=False)
        np.testing.assert_allclose(predict(loaded, x), expected, **FORWARD_TOL)
    fresh = build(ember)
    fresh.load_weights(tmp_path / "keras.weights.h5")
    np.testing.assert_allclose(predict(fresh, x), expected, **FORWARD_TOL)


def _normalized(config):
    return json.loads(json.dumps(config))


@pytest.mark.parametrize("name", ["conv2d_same_strides_relu", "conv1d_causal_dilation",
                                  "conv2d_transpose_output_padding", "depthwise2d",
                                  "separable2d_channels_first", "depthwise1d", "separable1d"])
def test_layer_config_is_keras_3s(keras, name):
    cls, kwargs, shape = LAYERS[name]
    ours = getattr(ember.layers, cls)(name="layer", **kwargs).get_config()
    theirs = getattr(keras.layers, cls)(name="layer", **kwargs).get_config()
    assert _normalized(ours) == _normalized(theirs)


def write_keras2_conv_h5(path, rng):
    """A Sequential Conv2D -> Flatten -> Dense file as tf.keras 2.x wrote it: Keras 2 layer
    configs, weights named "conv2d/kernel:0" (kernel (kh, kw, in, out) as Keras 3 has it)."""
    def initializer(name):
        return {"class_name": name, "config": {"seed": None} if name == "GlorotUniform" else {}}

    conv = {"class_name": "Conv2D", "config": {
        "name": "conv2d", "trainable": True, "batch_input_shape": [None, 6, 5, 2],
        "dtype": "float32", "filters": 3, "kernel_size": [3, 3], "strides": [1, 1],
        "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1],
        "groups": 1, "activation": "relu", "use_bias": True,
        "kernel_initializer": initializer("GlorotUniform"),
        "bias_initializer": initializer("Zeros"), "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None}}
    flatten = {"class_name": "Flatten", "config": {
        "name": "flatten", "trainable": True, "dtype": "float32",
        "data_format": "channels_last"}}
    dense = {"class_name": "Dense", "config": {
        "name": "dense", "trainable": True, "dtype": "float32", "units": 2,
        "activation": "linear", "use_bias": True,
        "kernel_initializer": initializer("GlorotUniform"),
        "bias_initializer": initializer("Zeros"), "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None}}
    input_layer = {"class_name": "InputLayer", "config": {
        "batch_input_shape": [None, 6, 5, 2], "dtype": "float32", "sparse": False,
        "ragged": False, "name": "conv2d_input"}}
    weights = {"conv2d": [rng.normal(size=(3, 3, 2, 3)).astype("float32"),
                          rng.normal(size=3).astype("float32")],
               "flatten": [],
               "dense": [rng.normal(size=(4 * 3 * 3, 2)).astype("float32"),
                         rng.normal(size=2).astype("float32")]}
    model_config = {"class_name": "Sequential", "config": {
        "name": "sequential", "layers": [input_layer, conv, flatten, dense]}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.9.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [n.encode("utf8") for n in weights]
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.9.0"
        for name, values in weights.items():
            layer_group = group.create_group(name)
            names = [f"{name}/{w}:0".encode() for w in ("kernel", "bias")][:len(values)]
            layer_group.attrs["weight_names"] = names
            for weight_name, value in zip(names, values):
                layer_group.create_dataset(weight_name, value.shape, dtype=value.dtype)[:] = value
    return weights


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
def test_ember_loads_a_keras2_conv2d_h5(keras, rng, tmp_path):
    path = tmp_path / "keras2_conv.h5"
    weights = write_keras2_conv_h5(path, rng)
    x = rng.normal(size=(4, 6, 5, 2)).astype("float32")
    model = ember.models.load_model(path, compile=False)
    hidden = np.maximum(direct_conv2d(x, *weights["conv2d"], (1, 1), (1, 1),
                                      ((0, 0), (0, 0))), 0)
    expected = hidden.reshape(4, -1) @ weights["dense"][0] + weights["dense"][1]
    np.testing.assert_allclose(predict(model, x), expected, rtol=1e-5, atol=1e-5)
    reference = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(predict(model, x), predict(reference, x), **FORWARD_TOL)


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda L: L.Conv2D(2, 3, padding="full"), "padding"),
    (lambda L: L.Conv2D(2, 3, padding="causal"), "padding"),
    (lambda L: L.Conv2DTranspose(2, 3, padding="causal"), "padding"),
    (lambda L: L.Conv2D(2, 3, data_format="channels_middle"), "data_format"),
    (lambda L: L.Conv2D(3, 3, groups=2), "groups"),
    (lambda L: L.Conv2D(0, 3), "filters"),
    (lambda L: L.Conv2D(2, (3, 3, 3)), "kernel_size"),
    (lambda L: L.Conv2D(2, 0), "kernel_size"),
    (lambda L: L.Conv2D(2, 3, strides=2, dilation_rate=2), "dilation_rate"),
    (lambda L: L.Conv2DTranspose(2, 3, strides=2, output_padding=2), "output_padding"),
    (lambda L: L.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
])
def test_bad_arguments_raise_value_errors_naming_the_layer(make, match):
    with pytest.raises(ValueError, match=match) as error:
        make(ember.layers)
    assert str(error.value).startswith(("Conv2D '", "Conv2DTranspose '", "DepthwiseConv2D '"))


@pytest.mark.parametrize("make,shape,match", [
    (lambda L: L.Conv2D(2, 3, name="c2"), (8, 3), 'layer "c2".*expected ndim=4, found ndim=3'),
    (lambda L: L.Conv1D(2, 3, name="c1"), (8, 8, 3), 'layer "c1".*expected ndim=3'),
    (lambda L: L.Conv2D(2, 5, name="big"), (4, 6, 1), "big.*larger than the input"),
    (lambda L: L.Conv1D(2, 4, dilation_rate=3, name="dil"), (9, 2), "dil.*larger"),
    (lambda L: L.Conv2D(4, 3, groups=2, name="grp"), (6, 6, 3), "grp.*divisible"),
    (lambda L: L.DepthwiseConv2D(4, name="dw"), (3, 3, 2), "dw.*larger"),
])
def test_bad_input_shapes_raise_value_errors_naming_the_layer(make, shape, match):
    with pytest.raises(ValueError, match=match):
        ember.Sequential([ember.Input(shape), make(ember.layers)])


def test_wrong_channels_for_a_built_layer_raise_value_errors():
    layer = ember.layers.Conv2D(2, 3, name="reused")
    ember.Sequential([ember.Input((5, 5, 3)), layer])
    with pytest.raises(ValueError, match="reused"):
        ember.Sequential([ember.Input((5, 5, 4)), layer])


# -- a tutorial: a small CNN on scikit-learn's 8x8 digits -------------------------------------
def test_a_small_cnn_learns_the_digits_as_keras_does(keras):
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_test, y_test = x[:1200], y[:1200], x[1200:], y[1200:]

    def cnn(lib):
        L = lib.layers
        zeros = {"kernel_initializer": "zeros"}  # set below, the same in both
        return lib.Sequential([lib.Input((8, 8, 1)),
                               L.Conv2D(8, 3, padding="same", activation="relu", **zeros),
                               L.Conv2D(16, 3, strides=2, activation="relu", **zeros),
                               L.Flatten(), L.Dense(10, activation="softmax", **zeros)])

    def glorot_uniform(shape, rng):
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        limit = np.sqrt(6.0 / ((shape[-2] + shape[-1]) * receptive))
        return rng.uniform(-limit, limit, shape).astype("float32")

    keras_model, ember_model = cnn(keras), cnn(ember)
    init = np.random.default_rng(0)
    keras_model.set_weights([glorot_uniform(w.shape, init) if len(w.shape) > 1 else
                             np.zeros(w.shape, "float32") for w in keras_model.get_weights()])
    ember_model.set_weights(keras_model.get_weights())
    accuracy = {}
    for model, lib in ((keras_model, keras), (ember_model, ember)):
        model.compile(lib.optimizers.Adam(learning_rate=0.01), "sparse_categorical_crossentropy")
        model.fit(x_train, y_train, batch_size=32, epochs=4, shuffle=False, verbose=0)
        accuracy[lib.__name__] = np.mean(predict(model, x_test).argmax(axis=1) == y_test)
    assert accuracy["ember"] > 0.93
    assert accuracy["ember"] == pytest.approx(accuracy["keras"], abs=0.02)
