"""The two Keras tutorials ember serves, run end to end on their data sets.

Data: ../shared/data/concrete.csv and car.csv (see the README there); the tests skip
when it is absent.

Reference: the concrete regression, run in Keras 3.15 (jax backend) with seeds 0-19,
ends with a val_loss between 82 and 170 (the validation rows are the last 30% of the
file, which fits worse than the rest); the training loss ends between 30 and 45.
"""

import ember
import numpy as np
import pandas as pd
import pytest

KERAS_WORST_VAL_LOSS = 170.0
VAL_LOSS_BOUND = 1.1 * KERAS_WORST_VAL_LOSS  # a bit above Keras's worst


@pytest.fixture
def concrete(data_dir):
    """(normalised predictors, strength) as the tutorial prepares them."""
    data = pd.read_csv(data_dir / "concrete.csv")
    data.columns = data.columns.str.strip()
    predictors = data[[c for c in data.columns if c != "Strength"]]
    target = data["Strength"]
    predictors_norm = (predictors - predictors.mean()) / predictors.std()
    return predictors_norm, target


@pytest.fixture
def car(data_dir):
    """(one-hot attributes as floats, one-hot class of 4) as the tutorial prepares them."""
    data = pd.read_csv(data_dir / "car.csv")
    attributes = pd.get_dummies(data.drop(columns="class")).astype(float)
    codes = data["class"].astype("category").cat.codes
    return attributes, ember.utils.to_categorical(codes, 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_concrete_regression_reaches_keras_val_loss(concrete, seed):
    predictors_norm, target = concrete
    ember.utils.set_random_seed(seed)
    model = ember.Sequential([
        ember.layers.Dense(50, activation="relu", input_shape=(8,)),
        ember.layers.Dense(50, activation="relu"),
        ember.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mean_squared_error")

    history = model.fit(predictors_norm, target, validation_split=0.3, epochs=100, verbose=0)

    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 100
    assert history.history["val_loss"][-1] < VAL_LOSS_BOUND
    assert history.history["loss"][-1] < 50.0
    assert history.history["loss"][-1] < history.history["loss"][0] / 20


def test_concrete_tutorial_script_runs_as_written(concrete, capsys):
    """The tutorial's own code, with `keras` swapped for ember."""
    import ember as keras
    from ember.layers import Dense
    from ember.models import Sequential

    predictors_norm, target = concrete
    n_cols = predictors_norm.shape[1]

    def regression_model():
        model = Sequential()
        model.add(Dense(50, activation="relu", input_shape=(n_cols,)))
        model.add(Dense(50, activation="relu"))
        model.add(Dense(1))
        model.compile(optimizer="adam", loss="mean_squared_error")
        return model

    keras.utils.set_random_seed(0)
    model = regression_model()
    model.summary()
    model.fit(predictors_norm, target, validation_split=0.3, epochs=100, verbose=2)
    loss = model.evaluate(predictors_norm, target, verbose=0)
    predictions = model.predict(predictors_norm[:3], verbose=0)

    printed = capsys.readouterr().out
    assert "Total params: 3,051" in printed  # 8*50+50 + 50*50+50 + 50+1
    assert "Epoch 100/100" in printed and "val_loss:" in printed
    assert isinstance(loss, float) and 0 < loss < VAL_LOSS_BOUND
    assert predictions.shape == (3, 1)
    assert np.all(np.isfinite(predictions))
    # The first mixes are strong concretes (80 and 62 MPa): the model knows them.
    np.testing.assert_allclose(predictions[:, 0], target[:3], rtol=0.5)


def car_model():
    return ember.Sequential([
        ember.layers.Dense(5, activation="relu", input_shape=(21,)),
        ember.layers.Dense(5, activation="relu"),
        ember.layers.Dense(4, activation="softmax"),
    ])


def test_car_classification_reaches_90_percent_accuracy(car):
    attributes, classes = car
    assert attributes.shape == (1728, 21) and classes.shape == (1728, 4)
    ember.utils.set_random_seed(0)
    model = car_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

    history = model.fit(attributes, classes, epochs=100, verbose=0)

    assert len(history.history["accuracy"]) == 100
    assert history.history["accuracy"][-1] >= 0.9


def test_car_predictions_are_probabilities(car):
    attributes, classes = car
    ember.utils.set_random_seed(1)
    model = car_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(attributes, classes, epochs=20, verbose=0)

    probabilities = model.predict(attributes, verbose=0)

    assert probabilities.shape == (1728, 4)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = np.mean(probabilities.argmax(axis=1) == classes.argmax(axis=1))
    assert accuracy == pytest.approx(model.evaluate(attributes, classes, verbose=0)[1])
