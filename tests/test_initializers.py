"""Initializers: their distributions (within sampling error: bounds of at least five
standard errors), their seeds, names and configs, against Keras 3 where it is
deterministic (names, configs) and against the math elsewhere."""

import math

import ember
import numpy as np
import pytest
from ember import initializers

FAN_IN, FAN_OUT = 400, 300


def spread_ok(values, expected_std):
    """The sample standard deviation agrees with expected_std within 5 standard errors."""
    return abs(values.std() / expected_std - 1) < 5 / math.sqrt(2 * values.size)


def test_lecun_uniform_lies_within_its_limit_with_a_uniform_spread():
    values = initializers.LecunUniform(seed=1)((FAN_IN, FAN_OUT)).astype(np.float64)

    limit = math.sqrt(3 / FAN_IN)
    assert np.abs(values).max() <= limit
    assert np.abs(values).max() > 0.99 * limit
    assert abs(values.mean()) < 5 * limit / math.sqrt(3 * values.size)
    # A uniform's variance is limit^2 / 3; its 4th moment makes the std's error 0.9 / sqrt(n).
    assert abs(values.std() / (limit / math.sqrt(3)) - 1) < 5 * 0.45 / math.sqrt(values.size)


def test_lecun_normal_has_stddev_sqrt_one_over_fan_in_and_is_cut_at_two_stddevs():
    values = initializers.LecunNormal(seed=2)((FAN_IN, FAN_OUT)).astype(np.float64)

    std = math.sqrt(1 / FAN_IN)
    assert spread_ok(values, std)
    assert np.abs(values).max() <= 2 * std / 0.87962566103423978 * (1 + 1e-6)


def test_truncated_normal_stays_within_two_stddevs_of_its_mean():
    values = initializers.TruncatedNormal(mean=1.0, stddev=0.5, seed=3)((500, 400))
    values = values.astype(np.float64)

    assert values.min() >= 0.0 and values.max() <= 2.0
    # A normal cut at +-2 sd keeps 0.8796 of its standard deviation.
    assert spread_ok(values, 0.5 * 0.87962566103423978)
    assert abs(values.mean() - 1.0) < 5 * 0.44 / math.sqrt(values.size)


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (3, 4, 5)])
def test_orthogonal_matrix_has_orthonormal_columns_or_rows_times_gain(shape):
    q = initializers.Orthogonal(gain=2.0, seed=4)(shape).astype(np.float64)

    m = q.reshape(-1, shape[-1])
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(small, 4.0 * np.eye(len(small)), atol=1e-5)


def test_orthogonal_needs_at_least_two_dimensions():
    with pytest.raises(ValueError, match="at least two-dimensional"):
        initializers.Orthogonal()((5,))


@pytest.mark.parametrize("shape", [(4, 4), (3, 5)])
def test_identity_is_gain_times_the_identity_matrix(shape):
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)(shape), 3.0 * np.eye(*shape))


def test_identity_needs_a_matrix():
    with pytest.raises(ValueError, match="only be used for 2D matrices"):
        initializers.Identity()((2, 2, 2))


SEEDED = [
    lambda seed: initializers.LecunUniform(seed=seed),
    lambda seed: initializers.LecunNormal(seed=seed),
    lambda seed: initializers.TruncatedNormal(seed=seed),
    lambda seed: initializers.Orthogonal(seed=seed),
    lambda seed: initializers.GlorotUniform(seed=seed),
    lambda seed: initializers.RandomNormal(seed=seed),
]
SEEDED_IDS = ["lecun_uniform", "lecun_normal", "truncated_normal", "orthogonal",
              "glorot_uniform", "random_normal"]


@pytest.mark.parametrize("make", SEEDED, ids=SEEDED_IDS)
def test_a_seed_gives_the_same_values_every_call(make):
    init = make(11)

    np.testing.assert_array_equal(init((6, 5)), init((6, 5)))
    np.testing.assert_array_equal(init((6, 5)), make(11)((6, 5)))
    assert not np.array_equal(init((6, 5)), make(12)((6, 5)))


@pytest.mark.parametrize("make", SEEDED, ids=SEEDED_IDS)
def test_unseeded_values_repeat_after_set_random_seed(make):
    ember.utils.set_random_seed(5)
    first = make(None)((6, 5))
    ember.utils.set_random_seed(5)

    np.testing.assert_array_equal(make(None)((6, 5)), first)


def test_a_non_integer_seed_raises():
    with pytest.raises(ValueError, match="`seed` argument should be"):
        initializers.LecunUniform(seed=1.5)


@pytest.mark.parametrize("name", ["lecun_uniform", "lecun_normal", "truncated_normal",
                                  "orthogonal", "identity", "LecunUniform", "TruncatedNormal",
                                  "OrthogonalInitializer", "IdentityInitializer", "normal",
                                  "uniform", "one", "zero"])
def test_get_knows_keras_names_and_aliases(keras, name):
    assert type(initializers.get(name)).__name__ == type(keras.initializers.get(name)).__name__


@pytest.mark.parametrize("make", [
    lambda lib: lib.initializers.LecunUniform(seed=1),
    lambda lib: lib.initializers.LecunNormal(),
    lambda lib: lib.initializers.TruncatedNormal(mean=0.5, stddev=0.1, seed=2),
    lambda lib: lib.initializers.Orthogonal(gain=1.5, seed=3),
    lambda lib: lib.initializers.GlorotUniform(seed=4),
    lambda lib: lib.initializers.VarianceScaling(scale=2.0, mode="fan_out",
                                                 distribution="normal"),
], ids=["lecun_uniform", "lecun_normal", "truncated_normal", "orthogonal", "glorot_uniform",
        "variance_scaling"])
def test_config_matches_keras_and_keras_rebuilds_it(keras, make):
    ours = initializers.serialize(make(ember))

    assert ours == keras.initializers.serialize(make(keras))
    assert keras.initializers.deserialize(ours).get_config() == ours["config"]
    assert initializers.get(ours).get_config() == ours["config"]


def test_identity_config_keeps_its_gain():
    # Keras 3.15's Identity.get_config() drops `gain` (returns {}); ember keeps it so that
    # from_config rebuilds the same initializer, and Keras reads it back the same way.
    assert initializers.Identity(gain=2.0).get_config() == {"gain": 2.0}
    assert initializers.Identity.from_config({"gain": 2.0}).gain == 2.0


def test_variance_scaling_counts_fans_over_the_given_axes():
    init = initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform",
                                        seed=1, input_axes=[0, 1], output_axes=[2])

    values = init((10, 20, 30))

    assert np.abs(values).max() <= math.sqrt(3 / 200)
    assert np.abs(values).max() > 0.99 * math.sqrt(3 / 200)


def test_lecun_initializer_works_as_a_dense_kernel_initializer():
    layer = ember.layers.Dense(30, kernel_initializer="lecun_uniform")
    layer.build((None, 50))

    assert np.abs(layer.kernel.numpy()).max() <= math.sqrt(3 / 50)


LOWERCASE = ["zeros", "ones", "constant", "random_uniform", "random_normal",
             "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
             "lecun_uniform", "lecun_normal", "truncated_normal", "orthogonal", "identity"]


@pytest.mark.parametrize("name", LOWERCASE)
def test_every_lowercase_alias_is_the_class_keras_names(keras, name):
    ours, theirs = getattr(initializers, name), getattr(keras.initializers, name)
    assert isinstance(ours, type) and ours.__name__ == theirs.__name__
    assert initializers.get(name).__class__ is ours


# The spread each lowercase name's samples have (shape (FAN_IN, FAN_OUT)), from Keras's
# formulas: variance scale / fan, a uniform's limit sqrt(3 * that), truncated normals'
# draws within two standard deviations keep the variance by construction.
SPREADS = {
    "glorot_uniform": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "glorot_normal": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "he_uniform": math.sqrt(2.0 / FAN_IN),
    "he_normal": math.sqrt(2.0 / FAN_IN),
    "lecun_uniform": math.sqrt(1.0 / FAN_IN),
    "lecun_normal": math.sqrt(1.0 / FAN_IN),
    "variance_scaling": math.sqrt(1.0 / FAN_IN),
    "random_normal": 0.05,
    "random_uniform": 0.1 / math.sqrt(12.0),
}


@pytest.mark.parametrize("name", sorted(SPREADS))
def test_lowercase_initializers_have_keras_spread_and_zero_mean(name):
    values = getattr(initializers, name)()((FAN_IN, FAN_OUT))
    assert values.shape == (FAN_IN, FAN_OUT) and values.dtype == np.float32
    values = values.astype(np.float64)
    assert spread_ok(values, SPREADS[name]), (values.std(), SPREADS[name])
    assert abs(values.mean()) < 5 * SPREADS[name] / math.sqrt(values.size)


def test_orthogonal_of_a_conv_kernel_is_orthonormal_over_its_flattened_rows():
    kernel = initializers.orthogonal(seed=7)((3, 3, 4, 8)).astype(np.float64)
    flat = kernel.reshape(-1, 8)  # 36 x 8: orthonormal columns
    np.testing.assert_allclose(flat.T @ flat, np.eye(8), atol=1e-6)


def test_get_serialize_deserialize_as_keras(keras, rng):
    assert initializers.get(None) is None
    assert isinstance(initializers.get(initializers.HeNormal), initializers.HeNormal)
    value = rng.normal(0, 1, (3, 2)).astype(np.float32)
    np.testing.assert_array_equal(initializers.get(value)((3, 2)), value)
    with pytest.raises(ValueError, match="Expected `shape`"):
        initializers.get(value)((2, 3))
    with pytest.raises(ValueError, match="Could not interpret initializer"):
        initializers.get("no_such_initializer")
    config = keras.initializers.serialize(keras.initializers.HeUniform(seed=3))
    assert initializers.serialize(initializers.deserialize(config)) == config
    legacy = {"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.5, "seed": 2}}
    assert initializers.deserialize(legacy).get_config() == {"mean": 1.0, "stddev": 0.5,
                                                             "seed": 2}

    @ember.saving.register_keras_serializable(package="ember_tests")
    class Halves(initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 0.5, np.float32)

    config = initializers.serialize(Halves())
    assert config["registered_name"] == "ember_tests>Halves"
    assert type(initializers.deserialize(config)) is Halves
