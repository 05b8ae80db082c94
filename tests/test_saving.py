"""Saving and loading within ember: every format round-trips exactly, training
resumes exactly from a file, a failed save keeps the earlier file, and broken or
mismatched files raise errors that say what is wrong.

Keras interop (files written and read by real Keras) is in test_saving_interop.py.
"""

import json
import os
import zipfile

import ember
import h5py
import numpy as np
import pytest
from ember.saving import keras_zip_format, legacy_h5_format, weights_h5

MODEL_FORMATS = [".keras", ".h5"]
ALL_FORMATS = [".keras", ".h5", ".weights.h5"]


def all_layers_sequential():
    """Every layer ember has, every activation, bias on and off, several initializers."""
    L = ember.layers
    return ember.Sequential([
        ember.Input(shape=(6,)),
        L.Dense(7, activation="relu", kernel_initializer="he_normal"),
        L.Dense(5, activation="sigmoid", use_bias=False),
        L.Activation("tanh"),
        L.Dense(4, activation="tanh", kernel_initializer="random_normal",
                bias_initializer="ones"),
        L.Dense(4),
        L.Activation("linear"),
        L.Dense(3, activation="softmax", kernel_initializer="glorot_normal"),
    ])


def all_layers_functional():
    L = ember.layers
    inputs = ember.Input(shape=(6,), name="features")
    x = L.Dense(7, activation="relu", name="hidden_relu")(inputs)
    x = L.Dense(5, activation="sigmoid", use_bias=False, name="no_bias")(x)
    x = L.Activation("tanh", name="act_tanh")(x)
    x = L.Dense(4, kernel_initializer="he_uniform", name="linear")(x)
    outputs = L.Dense(3, activation="softmax", name="probs")(x)
    return ember.Model(inputs, outputs, name="all_layers")


BUILDERS = {"sequential": all_layers_sequential, "functional": all_layers_functional}


def data(rng, n=48):
    x = rng.normal(size=(n, 6)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=n)]
    return x, y


def trained(kind, rng, optimizer=None):
    model = BUILDERS[kind]()
    model.compile(optimizer=optimizer or ember.optimizers.Adam(0.01),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    x, y = data(rng)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return model, x, y


def config_json(model):
    return json.loads(json.dumps(model.get_config()))


def assert_same_weights(a, b, same_paths=True):
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        if same_paths:
            assert wa.path == wb.path
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())


# -- round trips ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(BUILDERS))
@pytest.mark.parametrize("ext", MODEL_FORMATS)
def test_model_round_trip_is_exact(kind, ext, rng, tmp_path):
    model, x, _ = trained(kind, rng)
    path = tmp_path / f"model{ext}"
    model.save(path)
    loaded = ember.models.load_model(path)
    assert type(loaded) is type(model)
    assert [type(la) for la in loaded.layers] == [type(la) for la in model.layers]
    assert config_json(loaded) == config_json(model)
    assert_same_weights(loaded, model)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.compiled
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded._compile_config["loss"] == "categorical_crossentropy"
    assert loaded._compile_config["metrics"] == ["accuracy"]


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_weights_round_trip_is_exact(kind, rng, tmp_path):
    model, x, _ = trained(kind, rng)
    model.save_weights(tmp_path / "model.weights.h5")
    fresh = BUILDERS[kind]()
    fresh.load_weights(tmp_path / "model.weights.h5")
    assert_same_weights(fresh, model, same_paths=False)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_json_round_trip_rebuilds_the_architecture(kind, rng):
    model, _, _ = trained(kind, rng)
    text = model.to_json()
    rebuilt = ember.models.model_from_json(text)
    assert json.loads(rebuilt.to_json()) == json.loads(text)
    assert rebuilt.compiled  # to_json carries compile_config, as in Keras
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_from_config_of_get_config_is_the_same_model(kind, rng):
    model = BUILDERS[kind]()
    clone = type(model).from_config(model.get_config())
    assert config_json(clone) == config_json(model)
    assert clone.name == model.name
    # A new model from a config gets fresh, initialized weights.
    assert not all(np.array_equal(a, b) for a, b in zip(clone.get_weights(),
                                                        model.get_weights()))


@pytest.mark.parametrize("layer", [
    lambda: ember.layers.Dense(3, activation="sigmoid", use_bias=False, name="d",
                               kernel_initializer="he_uniform", bias_initializer="ones"),
    lambda: ember.layers.Activation("softmax", name="act"),
    lambda: ember.layers.InputLayer(shape=(5,), name="inp"),
], ids=["Dense", "Activation", "InputLayer"])
def test_layer_from_config_of_get_config_round_trips(layer):
    original = layer()
    config = original.get_config()
    clone = type(original).from_config(json.loads(json.dumps(config)))
    assert json.loads(json.dumps(clone.get_config())) == json.loads(json.dumps(config))


@pytest.mark.parametrize("ext", MODEL_FORMATS)
def test_loss_and_metric_objects_round_trip(ext, rng, tmp_path):
    model = all_layers_sequential()
    model.compile(optimizer=ember.optimizers.SGD(0.1, momentum=0.5, nesterov=True),
                  loss=ember.losses.CategoricalCrossentropy(),
                  metrics=[ember.metrics.CategoricalAccuracy()])
    x, y = data(rng)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / f"m{ext}")
    loaded = ember.models.load_model(tmp_path / f"m{ext}")
    assert type(loaded._compile_config["loss"]) is ember.losses.CategoricalCrossentropy
    assert loaded._compile_config["loss"].get_config() == model._compile_config["loss"].get_config()
    [metric] = loaded._compile_config["metrics"]
    assert type(metric) is ember.metrics.CategoricalAccuracy
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_nested_models_round_trip(rng, tmp_path):
    inner = ember.Sequential([ember.Input((6,)), ember.layers.Dense(5, activation="relu")],
                             name="inner_seq")
    inputs = ember.Input((6,), name="outer_in")
    hidden = ember.layers.Dense(6, activation="tanh")(inputs)
    sub_in = ember.Input((6,))
    sub = ember.Model(sub_in, ember.layers.Dense(5)(sub_in), name="inner_func")
    merged = ember.layers.Concatenate()([inner(hidden), sub(hidden)])
    model = ember.Model(inputs, ember.layers.Dense(3, activation="softmax")(merged))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, y = data(rng)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for ext in ALL_FORMATS:
        path = tmp_path / f"nested{ext}"
        if ext == ".weights.h5":
            model.save_weights(path)
            loaded = ember.models.load_model(tmp_path / "nested.keras")
            for w in loaded.weights:
                w.assign(np.zeros(w.shape))
            loaded.load_weights(path)
        else:
            model.save(path)
            loaded = ember.models.load_model(path)
        assert config_json(loaded) == config_json(model)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_sequential_without_input_shape_round_trips_unbuilt(tmp_path):
    model = ember.Sequential([ember.layers.Dense(2)], name="lazy")
    config = model.get_config()
    assert "build_input_shape" not in config and len(config["layers"]) == 1
    clone = ember.Sequential.from_config(config)
    assert not clone.built and clone.name == "lazy"


# -- resuming training ----------------------------------------------------------------
OPTIMIZERS = {
    "adam": lambda: ember.optimizers.Adam(learning_rate=0.01),
    "sgd_momentum": lambda: ember.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "rmsprop_centered_momentum": lambda: ember.optimizers.RMSprop(learning_rate=0.005,
                                                                  momentum=0.5, centered=True),
}


def resumed_and_straight(rng, tmp_path, optimizer, ext, shuffle, kind="sequential"):
    """(fit 3, save, load, fit 2) and (fit 5), from the same seed, as weight lists."""
    x, y = data(rng)
    seed = int(rng.integers(0, 2**31))
    fit = {"batch_size": 10, "verbose": 0, "shuffle": shuffle}

    ember.utils.set_random_seed(seed)
    model = BUILDERS[kind]()
    model.compile(optimizer=OPTIMIZERS[optimizer](), loss="categorical_crossentropy")
    model.fit(x, y, epochs=3, **fit)
    path = tmp_path / f"ckpt{ext}"
    if ext == ".weights.h5":
        model.save_weights(path)
        resumed = BUILDERS[kind]()
        resumed.compile(optimizer=OPTIMIZERS[optimizer](), loss="categorical_crossentropy")
        resumed.load_weights(path)
    else:
        model.save(path)
        resumed = ember.models.load_model(path)
    resumed.fit(x, y, epochs=2, **fit)

    ember.utils.set_random_seed(seed)
    straight = BUILDERS[kind]()
    straight.compile(optimizer=OPTIMIZERS[optimizer](), loss="categorical_crossentropy")
    straight.fit(x, y, epochs=5, **fit)
    return resumed, straight


@pytest.mark.parametrize("shuffle", [False, True], ids=["ordered", "shuffled"])
@pytest.mark.parametrize("ext", MODEL_FORMATS)
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_training_resumes_exactly_from_a_saved_model(optimizer, ext, shuffle, rng, tmp_path):
    resumed, straight = resumed_and_straight(rng, tmp_path, optimizer, ext, shuffle)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 25
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_training_resumes_exactly_from_saved_weights(optimizer, rng, tmp_path):
    # .weights.h5 carries the optimizer state too (Keras 3 writes it under "optimizer/").
    resumed, straight = resumed_and_straight(rng, tmp_path, optimizer, ".weights.h5",
                                             shuffle=False)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_training_resumes_exactly_for_a_functional_model(rng, tmp_path):
    resumed, straight = resumed_and_straight(rng, tmp_path, "adam", ".keras", shuffle=True,
                                             kind="functional")
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ext", MODEL_FORMATS)
def test_training_resumes_exactly_with_a_learning_rate_schedule(ext, rng, tmp_path):
    schedules = pytest.importorskip("ember.optimizers.schedules")
    x, y = data(rng)

    def run(save_at):
        ember.utils.set_random_seed(7)
        model = all_layers_sequential()
        schedule = schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.5)
        model.compile(optimizer=ember.optimizers.SGD(schedule, momentum=0.9),
                      loss="categorical_crossentropy")
        model.fit(x, y, batch_size=10, epochs=save_at or 5, verbose=0)
        if save_at:
            model.save(tmp_path / f"sched{ext}")
            model = ember.models.load_model(tmp_path / f"sched{ext}")
            model.fit(x, y, batch_size=10, epochs=5 - save_at, verbose=0)
        return model

    resumed, straight = run(3), run(None)
    assert float(resumed.optimizer.learning_rate) == float(straight.optimizer.learning_rate)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ext", MODEL_FORMATS)
@pytest.mark.parametrize("with_dropout", [False, True], ids=["dense", "dropout"])
def test_loading_does_not_advance_the_global_random_generator(with_dropout, ext, rng, tmp_path):
    model = all_layers_sequential()
    if with_dropout:
        model.add(ember.layers.Dropout(0.5))  # draws its seed when it is made
    model.save(tmp_path / f"m{ext}")
    ember.utils.set_random_seed(3)
    ember.models.load_model(tmp_path / f"m{ext}", compile=False)
    after_load = ember.random.generator().random()
    ember.utils.set_random_seed(3)
    assert ember.random.generator().random() == after_load


def test_untrained_optimizer_state_warns_and_starts_fresh(rng, tmp_path):
    model = all_layers_sequential()
    model.compile(optimizer=ember.optimizers.Adam(0.01), loss="categorical_crossentropy")
    model.save(tmp_path / "m.keras")
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        loaded = ember.models.load_model(tmp_path / "m.keras")
    assert loaded.compiled and loaded.optimizer.iterations == 0
    x, y = data(rng)
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_h5_without_optimizer_weights_warns_and_compiles_fresh(rng, tmp_path):
    model, _, _ = trained("sequential", rng)
    path = tmp_path / "m.h5"
    model.save(path)
    with h5py.File(path, "a") as f:
        del f["optimizer_weights"]
    with pytest.warns(UserWarning, match="holds no optimizer state"):
        loaded = ember.models.load_model(path)
    assert loaded.compiled and loaded.optimizer.iterations == 0


def test_h5_without_training_config_warns_and_is_not_compiled(rng, tmp_path):
    model, x, _ = trained("functional", rng)
    model.save(tmp_path / "m.h5", include_optimizer=False)
    with pytest.warns(UserWarning, match="was \\*not\\* compiled"):
        loaded = ember.models.load_model(tmp_path / "m.h5")
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_load_model_with_compile_false_is_not_compiled(rng, tmp_path):
    model, _, _ = trained("sequential", rng)
    model.save(tmp_path / "m.keras")
    assert not ember.models.load_model(tmp_path / "m.keras", compile=False).compiled


def test_saving_a_loaded_model_before_training_keeps_its_optimizer_state(rng, tmp_path):
    model, x, y = trained("sequential", rng)
    model.save(tmp_path / "a.keras")
    ember.models.load_model(tmp_path / "a.keras").save(tmp_path / "b.keras")
    twice = ember.models.load_model(tmp_path / "b.keras")
    once = ember.models.load_model(tmp_path / "a.keras")
    for m in (once, twice):
        m.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert twice.optimizer.iterations == once.optimizer.iterations == 9
    for a, b in zip(once.get_weights(), twice.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- atomic writes --------------------------------------------------------------------
def _boom(*args, **kwargs):
    raise RuntimeError("disk full (simulated)")


WRITERS = {".keras": (weights_h5, "write_weights"),
           ".h5": (legacy_h5_format, "save_weights_to_hdf5_group"),
           ".weights.h5": (weights_h5, "write_weights")}


@pytest.mark.parametrize("ext", ALL_FORMATS)
def test_failed_save_keeps_the_earlier_file_and_leaves_no_temp_file(ext, rng, tmp_path,
                                                                   monkeypatch):
    model, x, y = trained("sequential", rng)
    path = tmp_path / f"model{ext}"
    save = model.save_weights if ext == ".weights.h5" else model.save
    save(path)
    before = path.read_bytes()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    monkeypatch.setattr(*WRITERS[ext], _boom)
    with pytest.raises(RuntimeError, match="simulated"):
        save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_missing_folders_as_keras(rng, tmp_path):
    # Keras 3: a .keras save raises FileNotFoundError; .h5 and .weights.h5 create them.
    model, _, _ = trained("sequential", rng)
    with pytest.raises(FileNotFoundError, match="m.keras"):
        model.save(tmp_path / "a" / "b" / "m.keras")
    assert not (tmp_path / "a").exists()
    model.save(tmp_path / "a" / "b" / "m.h5")
    model.save_weights(tmp_path / "c" / "m.weights.h5")
    assert (tmp_path / "a" / "b" / "m.h5").is_file()
    assert (tmp_path / "c" / "m.weights.h5").is_file()


# -- broken files -------------------------------------------------------------------------
@pytest.mark.parametrize("ext", MODEL_FORMATS)
def test_missing_file_raises_file_not_found(ext, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        ember.models.load_model(tmp_path / f"missing{ext}")


def test_missing_weights_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        all_layers_sequential().load_weights(tmp_path / "missing.weights.h5")


@pytest.mark.parametrize("ext", ALL_FORMATS)
def test_truncated_file_raises_os_error(ext, rng, tmp_path):
    model, _, _ = trained("sequential", rng)
    path = tmp_path / f"model{ext}"
    (model.save_weights if ext == ".weights.h5" else model.save)(path)
    data_ = path.read_bytes()
    path.write_bytes(data_[: len(data_) // 2])
    with pytest.raises(OSError, match="model"):
        if ext == ".weights.h5":
            all_layers_sequential().load_weights(path)
        else:
            ember.models.load_model(path)


@pytest.mark.parametrize("ext", [".h5", ".keras"])
def test_text_file_with_a_model_extension_raises_os_error(ext, tmp_path):
    path = tmp_path / f"notes{ext}"
    path.write_text("these are my notes, not a model\n")
    with pytest.raises(OSError, match="notes"):
        ember.models.load_model(path)


def test_zip_without_config_json_raises_value_error(tmp_path):
    path = tmp_path / "bad.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.weights.h5", b"")
    with pytest.raises(ValueError, match="config.json"):
        ember.models.load_model(path)


def test_weights_file_loaded_as_a_model_says_what_it_is(rng, tmp_path):
    model, _, _ = trained("sequential", rng)
    model.save_weights(tmp_path / "w.weights.h5")
    os.rename(tmp_path / "w.weights.h5", tmp_path / "w.h5")
    with pytest.raises(ValueError, match="No model config.*load_weights"):
        ember.models.load_model(tmp_path / "w.h5")


class Scaled(ember.layers.Dense):
    """A custom layer for the registry tests: a Dense with an extra config argument."""

    def __init__(self, units, scale=2.0, **kwargs):
        super().__init__(units, **kwargs)
        self.scale = scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def custom_model():
    return ember.Sequential([ember.Input((3,)), Scaled(2, scale=3.0, name="custom")])


@pytest.mark.parametrize("ext", MODEL_FORMATS)
def test_unknown_class_names_the_class_and_custom_objects(ext, tmp_path):
    path = tmp_path / f"m{ext}"
    custom_model().save(path)
    with pytest.raises(TypeError, match=r"'Scaled'.*custom_objects=\{'Scaled': Scaled\}"):
        ember.models.load_model(path)


@pytest.mark.parametrize("ext", MODEL_FORMATS)
def test_custom_objects_load_a_custom_layer(ext, rng, tmp_path):
    model = custom_model()
    path = tmp_path / f"m{ext}"
    model.save(path)
    loaded = ember.models.load_model(path, custom_objects={"Scaled": Scaled}, compile=False)
    assert isinstance(loaded.layers[0], Scaled) and loaded.layers[0].scale == 3.0
    x = rng.normal(size=(4, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with ember.saving.custom_object_scope({"Scaled": Scaled}):
        assert isinstance(ember.models.load_model(path, compile=False).layers[0], Scaled)


def test_registered_class_loads_without_custom_objects(rng, tmp_path):
    @ember.saving.register_keras_serializable(package="tests")
    class RegisteredScaled(Scaled):
        pass

    model = ember.Sequential([ember.Input((3,)), RegisteredScaled(2, name="custom")])
    config = json.loads(model.to_json())["config"]["layers"][1]
    assert config["registered_name"] == "tests>RegisteredScaled"
    model.save(tmp_path / "m.keras")
    loaded = ember.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is RegisteredScaled
    assert ember.saving.get_registered_name(RegisteredScaled) == "tests>RegisteredScaled"
    assert ember.saving.get_registered_object("tests>RegisteredScaled") is RegisteredScaled


def mismatched_sequential():
    return ember.Sequential([
        ember.Input(shape=(6,)),
        ember.layers.Dense(7, activation="relu"),
        ember.layers.Dense(5, activation="sigmoid", use_bias=False),
        ember.layers.Activation("tanh"),
        ember.layers.Dense(9, activation="tanh"),  # 4 units in the saved model
        ember.layers.Dense(4),
        ember.layers.Activation("linear"),
        ember.layers.Dense(3, activation="softmax"),
    ])


@pytest.mark.parametrize("ext", ALL_FORMATS)
def test_weights_that_do_not_fit_name_the_layer_and_both_shapes(ext, rng, tmp_path):
    model, _, _ = trained("sequential", rng)
    path = tmp_path / f"m{ext}"
    (model.save_weights if ext == ".weights.h5" else model.save)(path)
    other = mismatched_sequential()
    before = other.get_weights()
    name = other.layers[3].name
    with pytest.raises(ValueError, match=rf"{name}.*\(5, 9\).*\(5, 4\)"):
        other.load_weights(path)
    for a, b in zip(other.get_weights(), before):  # nothing was half-loaded
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ext", [".weights.h5", ".h5"])
def test_skip_mismatch_loads_the_layers_that_fit(ext, rng, tmp_path):
    model, _, _ = trained("sequential", rng)
    path = tmp_path / f"m{ext}"
    (model.save_weights if ext == ".weights.h5" else model.save)(path)
    other = mismatched_sequential()
    with pytest.warns(UserWarning) as record:
        other.load_weights(path, skip_mismatch=True)
    assert any("(5, 9)" in str(w.message) and "(5, 4)" in str(w.message) for w in record)
    np.testing.assert_array_equal(other.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())


def test_bad_extensions_are_refused(rng, tmp_path):
    model, _, _ = trained("sequential", rng)
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        model.save(tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        model.save_weights(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="File format not supported"):
        ember.models.load_model(tmp_path / "m.pt")


# -- the formats' layouts ----------------------------------------------------------------
def test_keras_archive_holds_config_metadata_and_weights(rng, tmp_path):
    model, _, _ = trained("functional", rng)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        config = json.loads(zf.read("config.json"))
        metadata = json.loads(zf.read("metadata.json"))
    assert metadata["keras_version"] == keras_zip_format.KERAS_VERSION
    assert (config["module"], config["class_name"], config["registered_name"]) == (
        "keras.src.models.functional", "Functional", "Functional")
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    dense = config["config"]["layers"][1]
    assert dense["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == ["features", 0, 0]
    assert dense["build_config"] == {"input_shape": [None, 6]}


def test_weights_file_uses_keras_3_layout(rng, tmp_path):
    model, _, _ = trained("sequential", rng)
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        assert f["vars"].attrs["name"] == model.name
        assert sorted(f["layers"]) == ["activation", "activation_1", "dense", "dense_1",
                                       "dense_2", "dense_3", "dense_4"]
        np.testing.assert_array_equal(f["layers/dense_1/vars/0"][()],
                                      model.layers[1].kernel.numpy())
        assert list(f["layers/dense_1/vars"]) == ["0"]  # no bias
        opt = f["optimizer/vars"]
        assert opt.attrs["name"] == model.optimizer.name
        assert int(opt["0"][()]) == 6  # iterations: 2 epochs x 3 batches
        # Adam interleaves momentum and velocity per variable, as Keras does.
        np.testing.assert_array_equal(opt["2"][()], model._get_optimizer_state()["slots"][0][0])
        np.testing.assert_array_equal(opt["3"][()], model._get_optimizer_state()["slots"][0][1])


def test_h5_attributes_over_the_header_limit_are_split(tmp_path):
    names = [(f"layer_{i}_" + "x" * 3000).encode() for i in range(40)]
    with h5py.File(tmp_path / "a.h5", "w") as f:
        legacy_h5_format.save_attributes_to_hdf5_group(f, "layer_names", names)
        assert "layer_names" not in f.attrs
        assert {"layer_names0", "layer_names1"} <= set(f.attrs)
        assert all(f.attrs[k].nbytes <= legacy_h5_format.HDF5_OBJECT_HEADER_LIMIT
                   for k in f.attrs)
        assert legacy_h5_format.load_attributes_from_hdf5_group(f, "layer_names") == [
            n.decode() for n in names]


def test_model_with_long_layer_names_round_trips_through_h5(rng, tmp_path):
    long = "x" * 3000
    model = ember.Sequential([ember.Input((3,))]
                             + [ember.layers.Activation("tanh", name=f"a{i}_{long}")
                                for i in range(24)]
                             + [ember.layers.Dense(2, name=f"out_{long}")])
    model.save(tmp_path / "long.h5")
    with h5py.File(tmp_path / "long.h5", "r") as f:
        assert "layer_names0" in f["model_weights"].attrs
    loaded = ember.models.load_model(tmp_path / "long.h5", compile=False)
    x = rng.normal(size=(5, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# -- ModelCheckpoint ------------------------------------------------------------------
@pytest.mark.parametrize("ext", MODEL_FORMATS)
def test_model_checkpoint_saves_a_loadable_model_every_epoch(ext, rng, tmp_path):
    model = all_layers_sequential()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, y = data(rng)
    pattern = str(tmp_path / ("ckpt-{epoch:02d}" + ext))
    model.fit(x, y, batch_size=16, epochs=3, verbose=0,
              callbacks=[ember.callbacks.ModelCheckpoint(pattern, monitor="loss")])
    assert sorted(os.listdir(tmp_path)) == [f"ckpt-0{i}{ext}" for i in (1, 2, 3)]
    last = ember.models.load_model(tmp_path / f"ckpt-03{ext}")
    assert_same_weights(last, model)
    # The optimizer state is restored too (applied when training starts).
    assert last._pending_optimizer_state["iterations"] == 9


def test_model_checkpoint_save_best_only_keeps_the_best_epoch(rng, tmp_path):
    model = all_layers_sequential()
    model.compile(optimizer=ember.optimizers.SGD(0.5), loss="categorical_crossentropy")
    x, y = data(rng)
    vx, vy = data(rng, n=24)
    best = {}

    class Record(ember.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if not best or logs["val_loss"] < best["val_loss"]:
                best.update(val_loss=logs["val_loss"], weights=self.model.get_weights())

    path = tmp_path / "best.weights.h5"
    checkpoint = ember.callbacks.ModelCheckpoint(path, save_best_only=True,
                                                 save_weights_only=True)
    model.fit(x, y, batch_size=8, epochs=6, verbose=0, validation_data=(vx, vy),
              callbacks=[Record(), checkpoint])
    assert checkpoint.best == best["val_loss"]
    fresh = all_layers_sequential()
    fresh.load_weights(path)
    for a, b in zip(fresh.get_weights(), best["weights"]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_save_freq_in_batches(rng, tmp_path):
    model = all_layers_sequential()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x, y = data(rng)  # 48 samples, batch 8: 6 batches per epoch
    pattern = str(tmp_path / "b-{epoch}-{batch}.weights.h5")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[
        ember.callbacks.ModelCheckpoint(pattern, save_weights_only=True, save_freq=4)])
    assert sorted(os.listdir(tmp_path)) == ["b-1-4.weights.h5", "b-2-2.weights.h5",
                                            "b-2-6.weights.h5"]


def test_model_checkpoint_refuses_the_wrong_extension(tmp_path):
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        ember.callbacks.ModelCheckpoint(tmp_path / "w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        ember.callbacks.ModelCheckpoint(tmp_path / "m.ckpt")
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ember.callbacks.ModelCheckpoint(tmp_path / "m.keras", save_freq="batch")
