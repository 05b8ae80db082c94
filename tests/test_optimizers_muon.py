"""Muon against Keras 3 (jax): several steps on small models end at the same weights,
with its rules for which variables take the AdamW step (rank != 2, embeddings,
exclude_layers) and its two weight decays; config and errors.

MultiOptimizer and OptimizerMap are in keras.optimizers (3.15) but not built here yet
(tests/test_keras_names.py lists them in NOT_YET): they route variables to several
optimizers, which the engine's one-optimizer training step does not express yet.
"""

import ember
import numpy as np
import pytest
from parity import assert_weights_close

FEATURES, SAMPLES = 5, 48
TOL = {"rtol": 1e-4, "atol": 2e-5}


def mlp(lib):
    return lib.Sequential([
        lib.Input((FEATURES,)),
        lib.layers.Dense(7, activation="tanh", name="hidden"),
        lib.layers.Dense(3, name="dense_out"),  # 7 x 3: tall, orthogonalised transposed
    ])


def embedding_model(lib):
    return lib.Sequential([
        lib.Input((4,)),
        lib.layers.Embedding(12, 6),
        lib.layers.Flatten(),
        lib.layers.Dense(3),
    ])


CASES = {
    "defaults": (mlp, {}),
    "plain_momentum_no_rms": (mlp, {"nesterov": False, "rms_rate": None, "momentum": 0.8,
                                    "ns_steps": 3}),
    "decays_and_ratio": (mlp, {"weight_decay": 0.05, "adam_weight_decay": 0.02,
                               "adam_lr_ratio": 0.5, "adam_beta_1": 0.8}),
    "exclude_layers": (mlp, {"exclude_layers": ["dense_out"]}),
    "embedding": (embedding_model, {}),
    "embedding_included": (embedding_model, {"exclude_embeddings": False}),
}


def data(rng, model_fn):
    if model_fn is embedding_model:
        x = rng.integers(0, 12, (SAMPLES, 4)).astype("float32")
    else:
        x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    return x, rng.normal(size=(SAMPLES, 3)).astype("float32")


@pytest.mark.parametrize("case", list(CASES))
def test_muon_trains_to_keras_weights(keras, rng, case):
    model_fn, kwargs = CASES[case]
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    keras_model = model_fn(keras)
    ember_model = model_fn(ember)
    ember_model.set_weights(keras_model.get_weights())
    x, y = data(rng, model_fn)
    keras_model.compile(keras.optimizers.Muon(learning_rate=0.02, **kwargs), "mse")
    ember_model.compile(ember.optimizers.Muon(learning_rate=0.02, **kwargs), "mse")
    fit_args = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0}

    keras_history = keras_model.fit(x, y, **fit_args).history
    ember_history = ember_model.fit(x, y, **fit_args).history

    for k, e in zip(keras_model.get_weights(), ember_model.get_weights(), strict=True):
        assert_weights_close(e, k, **TOL)
    np.testing.assert_allclose(ember_history["loss"], keras_history["loss"], rtol=1e-4)


def test_muon_apply_matches_keras_on_variables(keras, rng):
    shapes = [(6, 4), (3, 8), (5,)]
    values = [rng.normal(size=s).astype("float32") for s in shapes]
    grads = [[rng.normal(size=s).astype("float32") for s in shapes] for _ in range(3)]
    keras_vars = [keras.Variable(v, name=f"w{i}") for i, v in enumerate(values)]
    ember_layer = ember.layers.Layer(name="holder")
    ember_vars = [ember_layer.add_weight(shape=s, initializer="zeros", name=f"w{i}")
                  for i, s in enumerate(shapes)]
    for v, value in zip(ember_vars, values):
        v.assign(value)
    keras_opt = keras.optimizers.Muon(learning_rate=0.05)
    ember_opt = ember.optimizers.Muon(learning_rate=0.05)

    for step in grads:
        keras_opt.apply(step, keras_vars)
        ember_opt.apply(step, ember_vars)

    for k, e in zip(keras_vars, ember_vars):
        np.testing.assert_allclose(e.numpy(), np.asarray(k), **TOL)


def test_muon_config_is_keras_and_round_trips(keras):
    kwargs = {"learning_rate": 0.01, "exclude_layers": ["out"], "rms_rate": None,
              "ns_steps": 4, "adam_weight_decay": 0.1}
    config = ember.optimizers.Muon(**kwargs).get_config()
    expected = keras.optimizers.Muon(**kwargs).get_config()
    for key in ("name",):
        config.pop(key), expected.pop(key)
    assert {k: config[k] for k in expected} == expected
    again = ember.optimizers.Muon.from_config(ember.optimizers.Muon(**kwargs).get_config())
    assert again.get_config()["exclude_layers"] == ["out"]
    assert ember.optimizers.get("muon").__class__ is ember.optimizers.Muon


def test_muon_rejects_bad_arguments():
    with pytest.raises(ValueError, match="adam_beta_1"):
        ember.optimizers.Muon(adam_beta_1=1.5)
    with pytest.raises(ValueError, match="ns_steps"):
        ember.optimizers.Muon(ns_steps=-1)
    with pytest.raises(Exception, match="unterminated|missing|bad|nothing"):
        ember.optimizers.Muon(exclude_layers=["(unclosed"])
