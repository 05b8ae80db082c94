"""A Keras tutorial's whole list, in order, on real data (the car evaluation set):
the functional API, an L2-regularized Dense layer, BatchNormalization and Dropout,
Adam, validation data, EarlyStopping with restore_best_weights, evaluate, predict,
get_weights, and an intermediate layer's output."""

import ember
import numpy as np
import pandas as pd
import pytest
from ember.layers import BatchNormalization, Dense, Dropout, Input
from ember.models import Model


@pytest.fixture
def car(data_dir):
    data = pd.read_csv(data_dir / "car.csv")
    attributes = pd.get_dummies(data.drop(columns="class")).astype("float32")
    labels = data["class"].astype("category").cat.codes.to_numpy()
    return attributes, labels


def test_the_tutorial_walkthrough_runs_end_to_end(car):
    attributes, labels = car
    ember.utils.set_random_seed(7)
    order = np.random.default_rng(0).permutation(len(labels))
    split = int(0.8 * len(labels))
    train, test = order[:split], order[split:]
    x_train, x_test = attributes.iloc[train], attributes.iloc[test]
    y_train = ember.utils.to_categorical(labels[train], 4)
    y_test = ember.utils.to_categorical(labels[test], 4)

    inputs = Input(shape=(attributes.shape[1],), name="attributes")
    h = Dense(32, activation="relu", kernel_regularizer=ember.regularizers.L2(1e-4),
              name="hidden")(inputs)
    h = BatchNormalization(name="norm")(h)
    h = Dropout(0.2, name="drop")(h)
    outputs = Dense(4, activation="softmax", name="probabilities")(h)
    model = Model(inputs, outputs)
    model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01),
                  loss="categorical_crossentropy", metrics=["accuracy"])

    stopper = ember.callbacks.EarlyStopping(monitor="val_loss", patience=5,
                                            restore_best_weights=True)
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=200,
                        batch_size=32, callbacks=[stopper], verbose=0)

    # Early stopping stopped before 200 epochs and put the best epoch's weights back.
    epochs_run = len(history.history["val_loss"])
    assert epochs_run < 200
    best = int(np.argmin(history.history["val_loss"]))
    assert stopper.stopped_epoch > 0 and stopper.best == pytest.approx(
        history.history["val_loss"][best], rel=1e-6)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert loss == pytest.approx(history.history["val_loss"][best], rel=1e-5)
    assert accuracy > 0.9

    probabilities = model.predict(x_test, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(1) == y_test.argmax(1)).mean() == pytest.approx(accuracy)

    weights = model.get_weights()
    assert [w.shape for w in weights] == [
        (attributes.shape[1], 32), (32,),   # hidden kernel, bias
        (32,), (32,), (32,), (32,),         # norm gamma, beta, moving mean, moving variance
        (32, 4), (4,),                      # probabilities kernel, bias
    ]
    assert model.count_params() == sum(w.size for w in weights)

    # An intermediate layer's output, from a model sharing the trained layers.
    features = Model(inputs=model.inputs, outputs=model.get_layer("norm").output)
    hidden = features.predict(x_test, verbose=0)
    gamma, beta, mean, variance = model.get_layer("norm").get_weights()
    kernel, bias = model.get_layer("hidden").get_weights()
    pre = np.maximum(x_test.to_numpy(np.float64) @ kernel + bias, 0.0)
    expected = (pre - mean) / np.sqrt(variance + 1e-3) * gamma + beta
    np.testing.assert_allclose(hidden, expected, rtol=1e-4, atol=1e-4)
