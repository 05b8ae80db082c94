"""fit(steps_per_epoch=...) as Keras 3 runs it on arrays: a pass over the data
continues across epochs, an epoch that reaches the end of the data stops short
(with Keras's warning) and the next one starts a new pass."""

import warnings

import ember
import numpy as np
import pytest
from parity import assert_weights_close


def _pair(keras):
    models = []
    for lib in (ember, keras):
        models.append(lib.Sequential([lib.Input((4,)), lib.layers.Dense(5, activation="tanh"),
                                      lib.layers.Dense(1)]))
    models[0].set_weights(models[1].get_weights())
    for m, lib in zip(models, (ember, keras)):
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return models


@pytest.mark.parametrize("steps_per_epoch", [2, 3, 5, 7])
def test_steps_per_epoch_trains_the_batches_keras_trains(keras, rng, steps_per_epoch):
    x = rng.normal(size=(70, 4)).astype(np.float32)  # 5 batches of 16 (the last of 6)
    y = rng.normal(size=(70, 1)).astype(np.float32)
    em, km = _pair(keras)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kh = km.fit(x, y, batch_size=16, epochs=4, steps_per_epoch=steps_per_epoch,
                    shuffle=False, verbose=0).history
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eh = em.fit(x, y, batch_size=16, epochs=4, steps_per_epoch=steps_per_epoch,
                    shuffle=False, verbose=0).history
    assert sorted(eh) == sorted(kh)
    for key in kh:
        np.testing.assert_allclose(eh[key], kh[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for e, k in zip(em.get_weights(), km.get_weights()):
        assert_weights_close(e, k, rtol=1e-5, atol=1e-6)
    ran_out = any("ran out of data" in str(w.message) for w in caught)
    assert ran_out == (5 % steps_per_epoch != 0 or steps_per_epoch > 5)


def test_steps_per_epoch_sets_the_progress_steps_and_callback_batches(rng):
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)
    model = ember.Sequential([ember.Input((4,)), ember.layers.Dense(1)])
    model.compile("sgd", "mse")
    seen = []

    class Record(ember.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("steps", self.params["steps"]))

        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    model.fit(x, y, batch_size=16, epochs=2, steps_per_epoch=2, verbose=0,
              callbacks=[Record()])
    assert seen == [("steps", 2), 0, 1, 0, 1]


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3"])
def test_a_bad_steps_per_epoch_is_rejected(rng, bad):
    model = ember.Sequential([ember.Input((2,)), ember.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(np.ones((8, 2)), np.ones((8, 1)), steps_per_epoch=bad, verbose=0)
