"""Keras files both ways: what real Keras 3 writes (and what tf.keras / Keras 2
wrote), ember loads with the same predictions and optimizer state; what ember
writes, Keras 3 loads with the same predictions and resumes training from.

Keras runs on its jax backend in this process (see conftest.py), eagerly: these
models are tiny, and compiling each train step with XLA would cost more than it
saves. Models use every layer ember has: Input/InputLayer, Dense with each
activation, with and without bias and with several initializers, and Activation;
Sequential and functional.
"""

import json

import ember
import h5py
import numpy as np
import pytest

RTOL, ATOL = 1e-5, 1e-6
BATCH = 16


def build_sequential(k):
    """The same architecture in ember or Keras (`k` is the module)."""
    L = k.layers
    return k.Sequential([
        k.Input(shape=(6,), name="features"),
        L.Dense(7, activation="relu", kernel_initializer="he_normal", name="hidden_relu"),
        L.Dense(5, activation="sigmoid", use_bias=False, name="no_bias"),
        L.Activation("tanh", name="act_tanh"),
        L.Dense(4, activation="tanh", bias_initializer="ones", name="hidden_tanh"),
        L.Dense(4, name="linear"),
        L.Activation("linear", name="act_linear"),
        L.Dense(3, activation="softmax", kernel_initializer="glorot_normal", name="probs"),
    ], name="all_layers_seq")


def build_functional(k):
    L = k.layers
    inputs = k.Input(shape=(6,), name="features")
    x = L.Dense(7, activation="relu", name="hidden_relu")(inputs)
    x = L.Dense(5, activation="sigmoid", use_bias=False, name="no_bias")(x)
    x = L.Activation("tanh", name="act_tanh")(x)
    x = L.Dense(4, kernel_initializer="he_uniform", name="linear")(x)
    outputs = L.Dense(3, activation="softmax", name="probs")(x)
    return k.Model(inputs, outputs, name="all_layers_func")


BUILDERS = {"sequential": build_sequential, "functional": build_functional}
OPTIMIZERS = {"sequential": lambda k: k.optimizers.Adam(learning_rate=0.01),
              "functional": lambda k: k.optimizers.RMSprop(learning_rate=0.005, momentum=0.5,
                                                           centered=True)}
# The Sequential model's loss is "mse": Keras 3.15 writes that into a legacy .h5 that
# it then cannot load again (ember can).
LOSSES = {"sequential": "mse", "functional": "categorical_crossentropy"}


def make_data(seed=0, n=48):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=n)]
    return x, y


def compile_and_train(model, k, kind, x, y, loss=None):
    eager = {"run_eagerly": True} if k is not ember else {}
    model.compile(optimizer=OPTIMIZERS[kind](k), loss=loss or LOSSES[kind],
                  metrics=["accuracy"], **eager)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, shuffle=False)
    return model


def fit_one_more_epoch(model, x, y):
    if not isinstance(model, ember.Model):
        model.run_eagerly = True
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return model


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def weights_close(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        close(np.asarray(wa), np.asarray(wb))


def predict(model, x):
    # A Keras model is called directly: predict() would compile a predict function.
    out = model.predict(x, verbose=0) if isinstance(model, ember.Model) else model(x)
    return np.asarray(out[0] if isinstance(out, list) else out)


@pytest.fixture(scope="module")
def keras_files(keras, tmp_path_factory):
    """Files written by Keras 3: per architecture a trained model saved as .keras,
    .weights.h5 and .h5 (the .h5 last: Keras's h5 writer drops the optimizer from
    the model's compile config as a side effect); and the weights Keras reaches when
    it loads its .keras file and trains one more epoch."""
    folder = tmp_path_factory.mktemp("keras_written")
    x, y = make_data(1)
    out = {"x": x, "y": y}
    for kind, build in BUILDERS.items():
        model = compile_and_train(build(keras), keras, kind, x, y)
        paths = {ext: folder / f"{kind}{ext}" for ext in (".keras", ".weights.h5", ".h5")}
        model.save(paths[".keras"])
        model.save_weights(paths[".weights.h5"])
        model.save(paths[".h5"])
        resumed = fit_one_more_epoch(keras.models.load_model(paths[".keras"]), x, y)
        out[kind] = {"paths": paths, "predictions": predict(model, x),
                     "weights": model.get_weights(),
                     "iterations": int(model.optimizer.iterations),
                     "resumed_weights": resumed.get_weights(),
                     "resumed_iterations": int(resumed.optimizer.iterations)}
    return out


@pytest.fixture(scope="module")
def ember_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ember_written")
    x, y = make_data(2)
    out = {"x": x, "y": y}
    for kind, build in BUILDERS.items():
        # Not "mse" here, which Keras cannot read back from a legacy .h5.
        model = compile_and_train(build(ember), ember, kind, x, y,
                                  loss="mean_squared_error" if kind == "sequential" else None)
        paths = {ext: folder / f"{kind}{ext}" for ext in (".keras", ".weights.h5", ".h5")}
        model.save(paths[".keras"])
        model.save_weights(paths[".weights.h5"])
        model.save(paths[".h5"])
        out[kind] = {"paths": paths, "predictions": predict(model, x), "model": model}
    return out


# -- Keras 3 -> ember -------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".keras", ".h5"])
@pytest.mark.parametrize("kind", list(BUILDERS))
def test_ember_loads_keras_model_files(kind, ext, keras_files):
    written = keras_files[kind]
    model = ember.models.load_model(written["paths"][ext])
    close(predict(model, keras_files["x"]), written["predictions"])
    weights_close(model.get_weights(), written["weights"])
    assert model.compiled
    assert type(model.optimizer).__name__ == type(OPTIMIZERS[kind](ember)).__name__
    assert model._compile_config["loss"] == LOSSES[kind]
    assert model._compile_config["metrics"] == ["accuracy"]
    assert model._pending_optimizer_state["iterations"] == written["iterations"]


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_ember_loads_keras_weights_files(kind, keras_files):
    written = keras_files[kind]
    model = BUILDERS[kind](ember)
    model.load_weights(written["paths"][".weights.h5"])
    close(predict(model, keras_files["x"]), written["predictions"])


@pytest.mark.parametrize("ext", [".keras", ".h5"])
@pytest.mark.parametrize("kind", list(BUILDERS))
def test_ember_resumes_training_from_keras_files_as_keras_does(kind, ext, keras_files):
    """Keras continues from its .keras file (it cannot resume from its own legacy .h5:
    3.15 builds that optimizer for no variables); ember from either file."""
    written = keras_files[kind]
    model = ember.models.load_model(written["paths"][ext])
    fit_one_more_epoch(model, keras_files["x"], keras_files["y"])
    assert model.optimizer.iterations == written["resumed_iterations"]
    weights_close(model.get_weights(), written["resumed_weights"])


def test_ember_loads_the_legacy_h5_that_keras_cannot_reload(keras, keras_files):
    """Keras 3.15 writes `loss="mse"` into a legacy .h5 and then fails to resolve it;
    ember loads it, optimizer state included (resuming from it is checked above)."""
    path = keras_files["sequential"]["paths"][".h5"]
    with pytest.raises(ValueError, match="mse"):
        keras.models.load_model(path)
    loaded = ember.models.load_model(path)
    assert loaded._compile_config["loss"] == "mse"
    assert loaded._pending_optimizer_state["iterations"] == 6


# -- ember -> Keras 3 -------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".keras", ".h5"])
@pytest.mark.parametrize("kind", list(BUILDERS))
def test_keras_loads_ember_model_files(kind, ext, keras, ember_files):
    written = ember_files[kind]
    model = keras.models.load_model(written["paths"][ext])
    close(predict(model, ember_files["x"]), written["predictions"])
    assert [layer.name for layer in model.layers] == [layer.name for layer in
                                                      written["model"].layers]
    assert type(model.optimizer).__name__ == type(written["model"].optimizer).__name__
    close(float(model.optimizer.learning_rate), float(written["model"].optimizer.learning_rate))


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_keras_loads_ember_weights_files_with_optimizer_state(kind, keras, ember_files):
    written = ember_files[kind]
    model = BUILDERS[kind](keras)
    model.compile(optimizer=OPTIMIZERS[kind](keras), loss="categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    model.load_weights(written["paths"][".weights.h5"])
    close(predict(model, ember_files["x"]), written["predictions"])
    assert int(model.optimizer.iterations) == written["model"].optimizer.iterations


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_keras_resumes_training_from_ember_keras_files_as_ember_does(kind, keras, ember_files):
    x, y = ember_files["x"], ember_files["y"]
    reference = keras.models.load_model(ember_files[kind]["paths"][".keras"])
    assert int(reference.optimizer.iterations) == ember_files[kind]["model"].optimizer.iterations
    fit_one_more_epoch(reference, x, y)
    model = fit_one_more_epoch(ember.models.load_model(ember_files[kind]["paths"][".keras"]),
                               x, y)
    weights_close(model.get_weights(), reference.get_weights())


def _normalized(config):
    """JSON-equal form, without what legitimately differs between two processes: the
    object-sharing ids Keras adds inside .keras files."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "shared_object_id"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return clean(json.loads(json.dumps(config)))


def _without_initializer_details(config):
    # Initializer configs are the initializers module's own (Keras 3.15 adds
    # `input_axes`/`output_axes` to its variance-scaling ones); compared by class here.
    def clean(value):
        if isinstance(value, dict):
            if value.get("module") == "keras.initializers":
                return {"class_name": value["class_name"]}
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return clean(config)


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_model_config_is_keras_3s(kind, keras):
    ours = BUILDERS[kind](ember)
    theirs = BUILDERS[kind](keras)
    for m in (ours, theirs):
        m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ours_json = _without_initializer_details(_normalized(json.loads(ours.to_json())))
    theirs_json = _without_initializer_details(_normalized(json.loads(theirs.to_json())))
    ours_json["compile_config"].pop("jit_compile")  # Keras resolves "auto" per backend
    theirs_json["compile_config"].pop("jit_compile")
    for side in (ours_json, theirs_json):  # each library's own optimizer defaults
        side["compile_config"].pop("optimizer")
    assert ours_json == theirs_json


@pytest.mark.parametrize("layer", [
    lambda k: k.layers.Dense(3, activation="sigmoid", use_bias=False, name="d"),
    lambda k: k.layers.Activation("softmax", name="act"),
    lambda k: k.layers.InputLayer(shape=(5,), name="inp"),
], ids=["Dense", "Activation", "InputLayer"])
def test_layer_config_is_keras_3s(layer, keras):
    ours = _without_initializer_details(_normalized(layer(ember).get_config()))
    theirs = _without_initializer_details(_normalized(layer(keras).get_config()))
    assert ours == theirs


def h5_layout(path):
    """Every group, dataset and attribute of an HDF5 file: names, dtypes and shapes.
    The iteration counter is an integer of the backend's width (int32 on jax, int64
    on TensorFlow and ember), so its width is left out."""
    out = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            kind = type(obj).__name__
            dtype = str(getattr(obj, "dtype", ""))
            if name.endswith(("/iteration", "optimizer/vars/0")):
                dtype = "int"
            out.append((name, kind, dtype, getattr(obj, "shape", None)))
            for attr in obj.attrs:
                attr_id = obj.attrs.get_id(attr)
                out.append((name, attr, str(attr_id.dtype), attr_id.shape))
        visit("/", f)
        f.visititems(visit)
    return out


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_h5_and_weights_layouts_are_keras_3s(kind, keras, tmp_path):
    """The same model (same names) saved by both libraries gives the same HDF5 tree:
    groups, datasets, attributes, dtypes and shapes; and the same model_config."""
    x, y = make_data(6)
    for k in (ember, keras):
        model = BUILDERS[kind](k)
        eager = {} if k is ember else {"run_eagerly": True}
        model.compile(optimizer=k.optimizers.Adam(0.01, name="adam"), loss=LOSSES[kind],
                      metrics=["accuracy"], **eager)
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        model.save_weights(tmp_path / f"{k.__name__}.weights.h5")
        model.save(tmp_path / f"{k.__name__}.h5")
    for ext in (".weights.h5", ".h5"):
        assert h5_layout(tmp_path / f"ember{ext}") == h5_layout(tmp_path / f"keras{ext}")
    configs = []
    for name in ("ember", "keras"):
        with h5py.File(tmp_path / f"{name}.h5", "r") as f:
            configs.append(_without_initializer_details(json.loads(f.attrs["model_config"])))
    assert configs[0] == configs[1]

# -- every optimizer's state layout ------------------------------------------------------------
OPTIMIZER_ARGS = {"SGD": {"momentum": 0.9, "nesterov": True}, "Adam": {"amsgrad": True},
                  "RMSprop": {"momentum": 0.3}, "Adadelta": {}, "Adagrad": {}, "Adamax": {},
                  "AdamW": {}, "Lion": {}, "Nadam": {}, "Lamb": {},
                  "Adafactor": {"learning_rate": 0.01}, "ScheduleFreeAdamW": {},
                  "Ftrl": {"l1_regularization_strength": 0.01, "beta": 0.1,
                           "l2_shrinkage_regularization_strength": 0.01}}


@pytest.mark.parametrize("name", list(OPTIMIZER_ARGS))
def test_optimizer_state_moves_both_ways(name, keras, tmp_path):
    """Each optimizer's variables (slots, and Nadam's u_product) in Keras's order: a
    model saved mid-training by one library resumes in the other exactly as in itself."""
    x, y = make_data(5, n=40)

    def small(k):
        return k.Sequential([k.Input((6,)), k.layers.Dense(4, activation="tanh"),
                             k.layers.Dense(3)])

    for writer in (ember, keras):
        model = small(writer)
        eager = {} if writer is ember else {"run_eagerly": True}
        model.compile(optimizer=getattr(writer.optimizers, name)(**OPTIMIZER_ARGS[name]),
                      loss="mean_squared_error", **eager)
        model.fit(x, y, batch_size=10, epochs=1, verbose=0, shuffle=False)
        path = tmp_path / f"{writer.__name__}.keras"
        model.save(path)
        resumed = [fit_one_more_epoch(reader.models.load_model(path), x, y)
                   for reader in (ember, keras)]
        weights_close(resumed[0].get_weights(), resumed[1].get_weights())

# -- Keras 2 / tf.keras legacy .h5 ---------------------------------------------------------
def _keras2_dense(name, units, activation, use_bias=True, batch_input_shape=None):
    config = {"name": name, "trainable": True, "dtype": "float32"}
    if batch_input_shape is not None:
        config["batch_input_shape"] = batch_input_shape
    config.update({
        "units": units, "activation": activation, "use_bias": use_bias,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None,
    })
    return {"class_name": "Dense", "config": config}


def write_keras2_h5(path, kind, rng):
    """A model file exactly as tf.keras 2.x (TF 2.4 - 2.10) wrote one: the layout of
    its `keras/saving/hdf5_format.py` `save_model_to_hdf5` with the `model_metadata`
    of `saving_utils.py`. Layer configs are Keras 2's (`batch_input_shape`, dtype as
    a string, initializers without "module"), weight names carry the ":0" suffix,
    compiled metrics are saved as MeanMetricWrapper configs per output, and the
    optimizer weights are OptimizerV2 Adam's: `iter`, then every `m`, then every `v`.

    Returns the weights by layer, for a float64 NumPy reference."""
    layers = [("dense", 7, "relu", True), ("dense_1", 5, "sigmoid", False),
              ("activation", None, "tanh", None), ("dense_2", 3, "softmax", True)]
    weights, fan_in = {}, 6
    for name, units, _, use_bias in layers:
        if units is None:
            continue
        weights[name] = [rng.normal(size=(fan_in, units)).astype("float32")]
        if use_bias:
            weights[name].append(rng.normal(size=(units,)).astype("float32"))
        fan_in = units
    configs = []
    for i, (name, units, activation, use_bias) in enumerate(layers):
        if units is None:
            configs.append({"class_name": "Activation", "config": {
                "name": name, "trainable": True, "dtype": "float32", "activation": activation}})
        else:
            configs.append(_keras2_dense(name, units, activation, use_bias,
                                         [None, 6] if i == 0 and kind == "sequential" else None))
    if kind == "sequential":
        input_name = "dense_input"
        input_layer = {"class_name": "InputLayer", "config": {
            "batch_input_shape": [None, 6], "dtype": "float32", "sparse": False,
            "ragged": False, "name": input_name}}
        model_config = {"class_name": "Sequential",
                        "config": {"name": "sequential", "layers": [input_layer] + configs}}
        layer_names = [name for name, *_ in layers]
    else:
        input_name = "input_1"
        input_layer = {"class_name": "InputLayer", "config": {
            "batch_input_shape": [None, 6], "dtype": "float32", "sparse": False,
            "ragged": False, "name": input_name}, "name": input_name, "inbound_nodes": []}
        previous = input_name
        for config in configs:
            config["name"] = config["config"]["name"]
            config["inbound_nodes"] = [[[previous, 0, 0, {}]]]
            previous = config["name"]
        model_config = {"class_name": "Functional", "config": {
            "name": "model", "layers": [input_layer] + configs,
            "input_layers": [[input_name, 0, 0]], "output_layers": [[previous, 0, 0]]}}
        layer_names = [input_name] + [name for name, *_ in layers]
    training_config = {
        "loss": "categorical_crossentropy",
        "metrics": [[{"class_name": "MeanMetricWrapper", "config": {
            "name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}]],
        "weighted_metrics": None, "loss_weights": None,
        "optimizer_config": {"class_name": "Adam", "config": {
            "name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9,
            "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}},
    }
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.9.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [n.encode("utf8") for n in layer_names]
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.9.0"
        for name in sorted(layer_names):
            layer_group = group.create_group(name)
            values = weights.get(name, [])
            names = [f"{name}/{w}:0".encode() for w in ("kernel", "bias")][:len(values)]
            layer_group.attrs["weight_names"] = names
            for weight_name, value in zip(names, values):
                layer_group.create_dataset(weight_name, value.shape, dtype=value.dtype)[:] = value
        opt = f.create_group("optimizer_weights")
        variables = [(f"{n}/{w}", v) for n in sorted(weights)
                     for w, v in zip(("kernel", "bias"), weights[n])]
        names = [b"Adam/iter:0"] + [f"Adam/{p}/{slot}:0".encode()
                                    for slot in ("m", "v") for p, _ in variables]
        values = [np.int64(12)] + [rng.normal(size=v.shape).astype("float32")
                                   for _ in ("m", "v") for _, v in variables]
        opt.attrs["weight_names"] = names
        for name, value in zip(names, values):
            opt.create_dataset(name, np.shape(value), dtype=np.asarray(value).dtype)[()] = value
    return weights


def keras2_reference(weights, x):
    """The Keras 2 model's forward pass in float64 NumPy."""
    h = np.maximum(x @ weights["dense"][0].astype(np.float64) + weights["dense"][1], 0)
    h = 1 / (1 + np.exp(-(h @ weights["dense_1"][0].astype(np.float64))))
    h = np.tanh(h)
    z = h @ weights["dense_2"][0].astype(np.float64) + weights["dense_2"][1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# Keras's own warnings on reading Keras 2 configs and calling with a bare array.
@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
@pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match")
@pytest.mark.parametrize("kind", list(BUILDERS))
def test_ember_loads_keras2_h5_files_as_keras_3_does(kind, keras, rng, tmp_path):
    path = tmp_path / f"keras2_{kind}.h5"
    weights = write_keras2_h5(path, kind, rng)
    x = rng.normal(size=(10, 6)).astype("float32")
    # Keras 2's optimizer weights (iter, m..., v...) do not map onto Keras 3's
    # variables: Keras 3 and ember both warn and start the optimizer fresh.
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        model = ember.models.load_model(path)
    np.testing.assert_allclose(predict(model, x), keras2_reference(weights, x), rtol=1e-5,
                               atol=1e-6)
    reference = keras.models.load_model(path, compile=False)
    close(predict(model, x), predict(reference, x))
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    close(float(model.optimizer.learning_rate), 0.001)
    assert model._compile_config["metrics"] == ["accuracy"]
    assert model.optimizer.iterations == 0


def test_ember_loads_keras2_h5_weights_into_a_model(rng, tmp_path):
    path = tmp_path / "keras2.h5"
    weights = write_keras2_h5(path, "sequential", rng)
    model = ember.Sequential([ember.Input((6,)), ember.layers.Dense(7, activation="relu"),
                              ember.layers.Dense(5, activation="sigmoid", use_bias=False),
                              ember.layers.Activation("tanh"),
                              ember.layers.Dense(3, activation="softmax")])
    model.load_weights(path)
    x = rng.normal(size=(10, 6)).astype("float32")
    np.testing.assert_allclose(predict(model, x), keras2_reference(weights, x), rtol=1e-5,
                               atol=1e-6)


# -- attributes split over HDF5's header limit ---------------------------------------------
def test_split_h5_attributes_read_both_ways(keras, rng, tmp_path):
    long = "y" * 3000

    def build(k):
        return k.Sequential([k.Input((3,), name="inp")]
                            + [k.layers.Activation("tanh", name=f"a{i}_{long}") for i in range(24)]
                            + [k.layers.Dense(2, name=f"out_{long}")], name="long_names")

    x = rng.normal(size=(5, 3)).astype("float32")
    ours = build(ember)
    ours.save(tmp_path / "ember.h5")
    theirs = keras.models.load_model(tmp_path / "ember.h5", compile=False)
    close(predict(theirs, x), predict(ours, x))
    theirs.save(tmp_path / "keras.h5")
    with h5py.File(tmp_path / "keras.h5", "r") as f:
        assert "layer_names0" in f["model_weights"].attrs
    back = ember.models.load_model(tmp_path / "keras.h5", compile=False)
    close(predict(back, x), predict(ours, x))


# -- the other layers: a functional graph with merges, normalization, reshaping ------------
def build_graph(k):
    """A DAG using every merge, normalization, regularization and reshaping layer."""
    L = k.layers
    inputs = k.Input(shape=(6,), name="x")
    a = L.Dense(8, activation="relu", name="a")(inputs)
    b = L.Dense(8, activation="tanh", name="b")(inputs)
    merged = [L.Add(name="add")([a, b]), L.Subtract(name="sub")([a, b]),
              L.Multiply(name="mul")([a, b]), L.Average(name="avg")([a, b]),
              L.Maximum(name="max")([a, b]), L.Minimum(name="min")([a, b])]
    x = L.Concatenate(name="cat")(merged)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Dropout(0.3, name="drop")(x)
    x = L.GaussianNoise(0.1, name="noise")(x)
    x = L.ActivityRegularization(l2=0.01, name="act_reg")(x)
    x = L.Reshape((6, 8), name="reshape")(x)
    x = L.LayerNormalization(name="ln")(x)
    x = L.Flatten(name="flat")(x)
    outputs = L.Dense(3, activation="softmax", name="out")(x)
    return k.Model(inputs, outputs, name="graph")


def randomize(model, rng):
    """Fresh random weights (positive where they are variances), so every weight,
    moving statistics included, is checked to arrive in the right place."""
    model.set_weights([np.abs(rng.normal(size=w.shape)).astype("float32") + 0.5
                       if "variance" in w.path else
                       rng.normal(size=w.shape).astype("float32") for w in model.weights])
    return model


def test_graph_of_every_other_layer_moves_both_ways(keras, rng, tmp_path):
    x = rng.normal(size=(10, 6)).astype("float32")
    ours = randomize(build_graph(ember), rng)
    expected = predict(ours, x)
    for ext in (".keras", ".h5"):
        ours.save(tmp_path / f"ember{ext}")
        for reader in (keras, ember):
            loaded = reader.models.load_model(tmp_path / f"ember{ext}", compile=False)
            close(predict(loaded, x), expected)
    ours.save_weights(tmp_path / "ember.weights.h5")
    theirs = build_graph(keras)
    theirs.load_weights(tmp_path / "ember.weights.h5")
    close(predict(theirs, x), expected)

    theirs = randomize(build_graph(keras), rng)
    expected = predict(theirs, x)
    theirs.save(tmp_path / "keras.keras")
    theirs.save_weights(tmp_path / "keras.weights.h5")
    theirs.save(tmp_path / "keras.h5")
    for ext in (".keras", ".h5"):
        loaded = ember.models.load_model(tmp_path / f"keras{ext}", compile=False)
        close(predict(loaded, x), expected)
    fresh = build_graph(ember)
    fresh.load_weights(tmp_path / "keras.weights.h5")
    close(predict(fresh, x), expected)
