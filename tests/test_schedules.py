"""ember's learning-rate schedules against Keras 3's, by the values they produce.

Keras computes `schedule(step)` in float32 op by op; ember's engine does the same
arithmetic in the same order, so the values agree to the last bit on every step
measured. (Inside a jitted train step XLA may fuse or reassociate and differ by a few
ulps; the training tests in test_optimizers.py cover that path.) Keras's `ops.cond`,
used by CosineDecay's warmup and CosineDecayRestarts, compiles a program per eager call
(~0.3 s), so the reference runs it as a plain Python branch - the same ops on the same
values.
"""

import ember
import numpy as np
import pytest

CASES = {
    "exponential": ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7,
                                         "decay_rate": 0.9}),
    "exponential_staircase": ("ExponentialDecay", {"initial_learning_rate": 0.1,
                                                   "decay_steps": 7, "decay_rate": 0.5,
                                                   "staircase": True}),
    "piecewise": ("PiecewiseConstantDecay", {"boundaries": [10, 50.5, 100],
                                             "values": [0.1, 0.05, 0.01, 0.001]}),
    "polynomial": ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 100,
                                       "end_learning_rate": 0.001, "power": 0.5}),
    "polynomial_cycle": ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 37,
                                             "cycle": True, "power": 2.0}),
    "inverse_time": ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 13,
                                          "decay_rate": 0.7}),
    "inverse_time_staircase": ("InverseTimeDecay", {"initial_learning_rate": 0.1,
                                                    "decay_steps": 13, "decay_rate": 0.7,
                                                    "staircase": True}),
    "cosine": ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 200, "alpha": 0.1}),
    "cosine_warmup": ("CosineDecay", {"initial_learning_rate": 0.001, "decay_steps": 150,
                                      "warmup_target": 0.1, "warmup_steps": 50}),
    "cosine_restarts": ("CosineDecayRestarts", {"initial_learning_rate": 0.1,
                                                "first_decay_steps": 20}),
    "cosine_restarts_constant_period": ("CosineDecayRestarts", {
        "initial_learning_rate": 0.1, "first_decay_steps": 17, "t_mul": 1.0, "m_mul": 0.8,
        "alpha": 0.05}),
    "cosine_restarts_growing": ("CosineDecayRestarts", {"initial_learning_rate": 0.1,
                                                        "first_decay_steps": 10, "t_mul": 3.0,
                                                        "m_mul": 0.5}),
}
VALUES_TOL = {"rtol": 1e-6, "atol": 1e-12}  # measured: identical bits


@pytest.fixture
def eager_cond(keras, monkeypatch):
    """Keras's ops.cond as a Python branch, for fast eager reference values."""
    import keras.src.ops

    monkeypatch.setattr(keras.src.ops, "cond", lambda pred, true_fn, false_fn: (
        true_fn() if bool(pred) else false_fn()))


def both(keras, case):
    name, kwargs = CASES[case]
    return (getattr(keras.optimizers.schedules, name)(**kwargs),
            getattr(ember.optimizers.schedules, name)(**kwargs))


def steps_to_check(rng):
    """Every step of the first 60 (warmups, first periods, boundaries) and later ones."""
    return np.unique(np.concatenate([np.arange(60), rng.integers(60, 3000, 40)]))


@pytest.mark.parametrize("case", list(CASES))
def test_values_at_integer_steps_match_keras(keras, rng, eager_cond, case):
    keras_schedule, ember_schedule = both(keras, case)
    steps = steps_to_check(rng)
    expected = np.array([np.asarray(keras_schedule(int(s))) for s in steps])
    got = np.array([ember_schedule(int(s)) for s in steps])
    np.testing.assert_allclose(got, expected, **VALUES_TOL)
    assert got.dtype == np.float32


@pytest.mark.parametrize("case", list(CASES))
def test_values_at_float_steps_match_keras(keras, rng, eager_cond, case):
    keras_schedule, ember_schedule = both(keras, case)
    steps = rng.uniform(0, 400, 25).astype(np.float32)
    expected = np.array([np.asarray(keras_schedule(s)) for s in steps])
    np.testing.assert_allclose(ember_schedule(steps), expected, **VALUES_TOL)


def test_array_of_steps_gives_array_of_values(rng):
    schedule = ember.optimizers.schedules.InverseTimeDecay(0.1, 5, 0.5)
    steps = rng.integers(0, 100, size=(3, 4))
    values = schedule(steps)
    assert values.shape == (3, 4) and values.dtype == np.float32
    assert values[1, 2] == schedule(int(steps[1, 2]))


def test_scalar_step_gives_float32_scalar():
    value = ember.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)(10)
    assert isinstance(value, np.float32) and value == np.float32(0.05)


def test_piecewise_truncates_float_boundaries_for_integer_steps(keras, eager_cond):
    """Keras casts the boundaries to the step's integer type: 50.5 acts as 50."""
    keras_schedule, ember_schedule = both(keras, "piecewise")
    assert ember_schedule(50) == ember_schedule(45) == np.float32(0.05)
    assert ember_schedule(51) == np.float32(0.01) == np.asarray(keras_schedule(51))
    assert ember_schedule(50.25) == np.float32(0.05)
    assert ember_schedule(50.75) == np.float32(0.01) == np.asarray(keras_schedule(50.75))


def test_changed_attribute_changes_values(keras):
    keras_schedule, ember_schedule = both(keras, "exponential")
    for schedule in (keras_schedule, ember_schedule):
        schedule.decay_rate = 0.5
        schedule.staircase = True
    for step in (3, 7, 20):
        assert ember_schedule(step) == np.asarray(keras_schedule(step))
    assert ember_schedule(20) == np.float32(0.025)


@pytest.mark.parametrize("case", list(CASES))
def test_get_config_and_serialize_match_keras(keras, case):
    keras_schedule, ember_schedule = both(keras, case)
    assert ember_schedule.get_config() == keras_schedule.get_config()
    assert (ember.optimizers.schedules.serialize(ember_schedule)
            == keras.optimizers.schedules.serialize(keras_schedule))


@pytest.mark.parametrize("case", list(CASES))
def test_deserialize_round_trip(keras, rng, case):
    _, ember_schedule = both(keras, case)
    restored = ember.optimizers.schedules.deserialize(
        ember.optimizers.schedules.serialize(ember_schedule))
    assert type(restored) is type(ember_schedule)
    assert restored.get_config() == ember_schedule.get_config()
    steps = steps_to_check(rng)
    np.testing.assert_array_equal(restored(steps), ember_schedule(steps))


def test_from_config_builds_the_schedule():
    config = {"initial_learning_rate": 0.5, "decay_steps": 4, "decay_rate": 0.25,
              "staircase": False, "name": "decay"}
    schedule = ember.optimizers.schedules.InverseTimeDecay.from_config(config)
    assert schedule.get_config() == config
    assert schedule(4) == np.float32(0.4)


def test_subclass_without_call_raises_not_implemented():
    class Incomplete(ember.optimizers.schedules.LearningRateSchedule):
        pass

    with pytest.raises(NotImplementedError, match="__call__"):
        Incomplete()(3)
    with pytest.raises(NotImplementedError, match="get_config"):
        Incomplete().get_config()


@pytest.mark.parametrize("name, kwargs, argument", [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.5},
     "decay_steps"),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": -3}, "decay_steps"),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.5},
     "decay_steps"),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 0}, "decay_steps"),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 0},
     "first_decay_steps"),
    ("PiecewiseConstantDecay", {"boundaries": [1, 2], "values": [0.1, 0.2]}, "boundaries"),
])
def test_invalid_arguments_raise_naming_them(name, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        getattr(ember.optimizers.schedules, name)(**kwargs)


def test_deserialize_unknown_class_raises():
    with pytest.raises(ValueError, match="Unknown|unknown class 'StepDecay'"):
        ember.optimizers.schedules.deserialize({"class_name": "StepDecay", "config": {}})
