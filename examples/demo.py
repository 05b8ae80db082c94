"""ember's main demo: a Keras tutorial, run on ember's C++ engine.

Trains a Dense network on scikit-learn's handwritten digits (shipped with the
package: no network needed), with a validation split, then evaluates on
held-out data and predicts. Only the import differs from the Keras original.
"""

import sys
import time

import ember as keras
import numpy as np
from ember.layers import Dense, Input
from ember.models import Sequential
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def main():
    keras.utils.set_random_seed(42)
    digits = load_digits()
    x = digits.data.astype("float32") / 16.0  # 8x8 images, pixel values 0..16
    y = digits.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)

    model = Sequential([
        Input(shape=(64,)),
        Dense(64, activation="relu"),
        Dense(32, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()

    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=40, validation_split=0.2,
                        verbose=2)
    seconds = time.perf_counter() - start

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    probabilities = model.predict(x_test[:5], verbose=0)
    print(f"\ntrained 40 epochs in {seconds:.2f} s "
          f"(final val_accuracy {history.history['val_accuracy'][-1]:.3f})")
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.3f}")
    print("first five test digits:", y_test[:5].tolist(),
          "predicted:", np.argmax(probabilities, axis=1).tolist())
    if accuracy < 0.9:
        raise SystemExit(f"unexpectedly low test accuracy: {accuracy:.3f}")
    if len(sys.argv) == 3 and sys.argv[1] == "--save":  # for C++: examples/cpp_consumer/predict.cpp
        model.save(sys.argv[2])
        print("saved", sys.argv[2])


if __name__ == "__main__":
    main()
