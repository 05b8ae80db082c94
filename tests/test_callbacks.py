"""ember's callbacks against Keras 3's: the same training (Keras's initial weights
copied into ember, shuffle=False) is driven in both, and what each callback
produces - the epoch EarlyStopping stops at, the weights it restores, the
learning rates ReduceLROnPlateau and LearningRateScheduler set, the CSV file,
where TerminateOnNaN stops, the hooks a callback sees - must be the same.
"""

import contextlib
import io
import warnings

import ember
import numpy as np
import pytest

RTOL, ATOL = 1e-5, 1e-6
FEATURES = 3


def build(lib, outputs=1):
    return lib.Sequential([
        lib.Input((FEATURES,)),
        lib.layers.Dense(4, activation="tanh"),
        lib.layers.Dense(outputs),
    ])


@pytest.fixture(scope="module")
def keras_models(keras):
    """Compiled Keras models by (optimizer, outputs, metrics), shared by this module's
    tests: tracing Keras's train step costs seconds, resetting its state nothing."""
    cache = {}

    def get(optimizer, outputs, metrics):
        key = (optimizer, outputs, metrics)
        if key not in cache:
            cache[key] = build(keras, outputs)
            cache[key].compile(getattr(keras.optimizers, optimizer)(), "mse",
                               metrics=list(metrics))
        return cache[key]

    return get


@pytest.fixture
def make_pair(keras_models, rng):
    """make_pair(...) -> the same model in Keras and ember: fresh random weights in
    both, a fresh optimizer state at `learning_rate`."""

    def make(optimizer="SGD", learning_rate=0.05, metrics=("mae",), outputs=1):
        keras_model = keras_models(optimizer, outputs, metrics)
        weights = [rng.normal(scale=0.5, size=w.shape).astype("float32")
                   for w in keras_model.get_weights()]
        keras_model.set_weights(weights)
        for variable in keras_model.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        keras_model.optimizer.learning_rate = learning_rate
        ember_model = build(ember, outputs)
        ember_model.compile(getattr(ember.optimizers, optimizer)(learning_rate=learning_rate),
                            "mse", metrics=list(metrics))
        ember_model.set_weights(weights)
        return keras_model, ember_model

    return make


def regression_data(rng, n=48, outputs=1, validation=0):
    """(x, y), or (x, y, x_val, y_val) with `validation` more samples of the same law."""
    total = n + validation
    x = rng.normal(size=(total, FEATURES)).astype("float32")
    w = rng.normal(size=(FEATURES, outputs)).astype("float32")
    y = (np.tanh(x) @ w + 0.1 * rng.normal(size=(total, outputs))).astype("float32")
    if not validation:
        return x, y
    return x[:n], y[:n], x[n:], y[n:]


def fit_both(keras, keras_model, ember_model, x, y, make_callbacks, **fit_args):
    """Fits both models with callbacks from `make_callbacks(lib, model)`; returns
    (history, callbacks, what it printed) for Keras, then for ember."""
    fit_args = {"batch_size": 8, "shuffle": False, "verbose": 0, **fit_args}
    results = []
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        callbacks = make_callbacks(lib, model)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            history = model.fit(x, y, callbacks=callbacks, **fit_args)
        results.append((history.history, callbacks, out.getvalue()))
    return results


def plateau_after(epoch):
    """A learning-rate schedule that stops learning from `epoch` on, so the loss
    repeats exactly from the epoch after: a plateau both frameworks see alike."""
    return lambda e, lr: lr if e < epoch else 0.0


def assert_same_history(got, expected):
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=RTOL, atol=ATOL, err_msg=key)


def assert_same_weights(ember_model, keras_model):
    for got, expected in zip(ember_model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


# -- EarlyStopping -------------------------------------------------------------------


def test_early_stopping_stops_at_keras_epoch_on_a_plateau(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    (kh, kcb, kout), (eh, ecb, eout) = fit_both(
        keras, keras_model, ember_model, x, y, epochs=12,
        make_callbacks=lambda lib, m: [
            lib.callbacks.LearningRateScheduler(plateau_after(3)),
            lib.callbacks.EarlyStopping(monitor="loss", patience=2, verbose=1)])
    assert 0 < kcb[1].stopped_epoch < 11
    assert ecb[1].stopped_epoch == kcb[1].stopped_epoch
    assert ecb[1].wait == kcb[1].wait and ecb[1].best_epoch == kcb[1].best_epoch
    assert_same_history(eh, kh)
    assert eout == kout == f"Epoch {kcb[1].stopped_epoch + 1}: early stopping\n"
    assert ember_model.stop_training is True


def test_early_stopping_baseline_keeps_counting_until_beaten(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    (kh, kcb, _), (eh, ecb, _) = fit_both(
        keras, keras_model, ember_model, x, y, epochs=12,
        make_callbacks=lambda lib, m: [
            lib.callbacks.LearningRateScheduler(plateau_after(3)),
            lib.callbacks.EarlyStopping(monitor="loss", patience=3, baseline=1e-9)])
    assert ecb[1].stopped_epoch == kcb[1].stopped_epoch > 0
    assert len(eh["loss"]) == len(kh["loss"])


def test_early_stopping_start_from_epoch_delays_monitoring(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    # mode="max" on a falling loss: nothing improves after the first monitored epoch.
    (kh, kcb, _), (eh, ecb, _) = fit_both(
        keras, keras_model, ember_model, x, y, epochs=8,
        make_callbacks=lambda lib, m: [lib.callbacks.EarlyStopping(
            monitor="loss", mode="max", patience=1, start_from_epoch=3)])
    assert ecb[0].stopped_epoch == kcb[0].stopped_epoch > 3
    assert ecb[0].best_epoch == kcb[0].best_epoch >= 3
    assert_same_history(eh, kh)


def test_early_stopping_restores_the_best_epochs_weights(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y, x_val, y_val = regression_data(rng, validation=16)
    snapshots = {keras: [], ember: []}

    def callbacks(lib, model):
        record = lib.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: snapshots[lib].append(model.get_weights()))
        # val_loss falls, so in mode="max" an early epoch stays the best.
        return [record, lib.callbacks.EarlyStopping(mode="max", patience=2,
                                                    restore_best_weights=True, verbose=1)]

    (_, kcb, kout), (_, ecb, eout) = fit_both(keras, keras_model, ember_model, x, y, epochs=10,
                                              validation_data=(x_val, y_val),
                                              make_callbacks=callbacks)
    stopped, best = kcb[1].stopped_epoch, kcb[1].best_epoch
    assert ecb[1].stopped_epoch == stopped > best == ecb[1].best_epoch
    assert eout == kout == (f"Epoch {stopped + 1}: early stopping\nRestoring model weights "
                            f"from the end of the best epoch: {best + 1}.\n")
    for got, best_weights in zip(ember_model.get_weights(), snapshots[ember][best]):
        np.testing.assert_array_equal(got, best_weights)
    assert not np.allclose(snapshots[ember][-1][0], snapshots[ember][best][0])
    assert_same_weights(ember_model, keras_model)


def test_early_stopping_restores_best_weights_without_stopping(keras, rng, make_pair):
    # Keras 3 restores at the end of training whenever it kept best weights.
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    (_, kcb, kout), (_, ecb, eout) = fit_both(
        keras, keras_model, ember_model, x, y, epochs=3,
        make_callbacks=lambda lib, m: [lib.callbacks.EarlyStopping(
            monitor="loss", mode="max", patience=10, restore_best_weights=True, verbose=1)])
    assert ecb[0].stopped_epoch == kcb[0].stopped_epoch == 0
    best = kcb[0].best_epoch
    assert ecb[0].best_epoch == best < 2
    assert eout == kout == f"Restoring model weights from the end of the best epoch: {best + 1}.\n"
    assert_same_weights(ember_model, keras_model)


def test_early_stopping_auto_mode_picks_keras_direction(keras, rng, make_pair):
    keras_model, ember_model = make_pair(metrics=("mae", "accuracy", "mse"))
    x, y = regression_data(rng)
    fit_both(keras, keras_model, ember_model, x, y, epochs=1, make_callbacks=lambda lib, m: [])
    for monitor in ("loss", "val_loss", "mae", "val_mae", "accuracy", "val_accuracy", "mse"):
        keras_cb = keras.callbacks.EarlyStopping(monitor=monitor, min_delta=0.5)
        ember_cb = ember.callbacks.EarlyStopping(monitor=monitor, min_delta=0.5)
        keras_cb.set_model(keras_model)
        ember_cb.set_model(ember_model)
        keras_cb._set_monitor_op()
        ember_cb._set_monitor_op()
        keras_up = keras_cb.monitor_op is keras.ops.greater
        assert (ember_cb.monitor_op is np.greater) == keras_up, monitor
        assert ember_cb.min_delta == keras_cb.min_delta == (0.5 if keras_up else -0.5)


def test_auto_mode_matches_unprefixed_metric_names_of_multi_output_models(keras, rng):
    # Keras matches the metric's own name ("mae"), not the logged "a_mae".
    x, y = regression_data(rng, n=16)
    directions = []
    for lib in (keras, ember):
        inputs = lib.Input((FEATURES,))
        outputs = {"a": lib.layers.Dense(1, name="a")(inputs),
                   "b": lib.layers.Dense(1, name="b")(inputs)}
        model = lib.Model(inputs, outputs)
        model.compile("sgd", {"a": "mse", "b": "mse"},
                      metrics={"a": ["mae"], "b": ["accuracy"]})
        model.fit(x, {"a": y, "b": y}, batch_size=8, verbose=0)
        found = {}
        for monitor in ("loss", "a_loss", "mae", "a_mae", "accuracy", "val_b_accuracy"):
            cb = lib.callbacks.ReduceLROnPlateau(monitor=monitor)
            cb.set_model(model)
            try:
                cb._set_monitor_op()
                found[monitor] = "min" if cb.min_delta < 0 else "max"
            except ValueError:
                found[monitor] = "unknown"
        directions.append(found)
    assert directions[1] == directions[0]
    assert directions[0]["a_mae"] == "unknown" and directions[0]["accuracy"] == "max"


def test_early_stopping_auto_mode_rejects_unknown_metric_like_keras(keras, make_pair):
    keras_model, ember_model = make_pair()
    messages = []
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        cb = lib.callbacks.EarlyStopping(monitor="val_unknown")
        cb.set_model(model)
        with pytest.raises(ValueError) as err:
            cb._set_monitor_op()
        messages.append(str(err.value))
    assert messages[1] == messages[0]


def test_early_stopping_warns_like_keras_when_monitor_is_missing(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    messages = []
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False,
                                callbacks=[lib.callbacks.EarlyStopping()])
        messages.append([str(w.message) for w in caught if "Early stopping" in str(w.message)])
        assert len(history.history["loss"]) == 2
    assert messages[1] == messages[0] and len(messages[0]) == 2


def test_improvement_is_judged_in_float32_as_keras(keras, rng):
    values = rng.normal(size=300)
    # Half the references sit within float32 rounding of the value, half at min_delta.
    references = np.where(rng.random(300) < 0.5, values + rng.normal(size=300) * 1e-8,
                          values + 0.1)
    for mode, min_delta in (("min", 0.1), ("max", 0.1), ("min", 0), ("max", 1e-9)):
        keras_cb = keras.callbacks.EarlyStopping(mode=mode, min_delta=min_delta)
        ember_cb = ember.callbacks.EarlyStopping(mode=mode, min_delta=min_delta)
        keras_cb._set_monitor_op()
        ember_cb._set_monitor_op()
        for value, reference in zip(values.tolist(), references.tolist()):
            assert ember_cb._is_improvement(value, reference) == \
                bool(keras_cb._is_improvement(value, reference)), (mode, value, reference)


# -- ReduceLROnPlateau and LearningRateScheduler ---------------------------------------


def test_reduce_lr_on_plateau_sets_keras_learning_rates(keras, rng, make_pair):
    # A tiny learning rate: each epoch improves the loss by far less than min_delta.
    keras_model, ember_model = make_pair(learning_rate=1e-8)
    x, y = regression_data(rng)
    (kh, _, kout), (eh, _, eout) = fit_both(
        keras, keras_model, ember_model, x, y, epochs=12,
        make_callbacks=lambda lib, m: [lib.callbacks.ReduceLROnPlateau(
            monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=1.5e-9, verbose=1)])
    assert len(set(kh["learning_rate"])) == 4
    assert eh["learning_rate"] == kh["learning_rate"]
    assert eout == kout and "ReduceLROnPlateau reducing learning rate to" in kout
    assert ember_model.optimizer.learning_rate == float(keras_model.optimizer.learning_rate)
    assert_same_history(eh, kh)


def test_reduce_lr_on_plateau_in_max_mode_on_validation(keras, rng, make_pair):
    keras_model, ember_model = make_pair(learning_rate=0.05)
    x, y, x_val, y_val = regression_data(rng, validation=16)
    (kh, _, _), (eh, _, _) = fit_both(
        keras, keras_model, ember_model, x, y, epochs=6, validation_data=(x_val, y_val),
        make_callbacks=lambda lib, m: [lib.callbacks.ReduceLROnPlateau(
            mode="max", factor=0.3, patience=1)])
    assert len(set(kh["learning_rate"])) > 1
    assert eh["learning_rate"] == kh["learning_rate"]
    assert_same_history(eh, kh)
    assert_same_weights(ember_model, keras_model)


def test_reduce_lr_on_plateau_rejects_factor_of_one_like_keras(keras):
    messages = []
    for lib in (keras, ember):
        with pytest.raises(ValueError) as err:
            lib.callbacks.ReduceLROnPlateau(factor=1.0)
        messages.append(str(err.value))
    assert messages[1] == messages[0]


def test_schedule_driven_optimizer_refuses_new_rates_like_keras(keras):
    results = []
    for lib in (keras, ember):
        model = build(lib)
        schedule = lib.optimizers.schedules.ExponentialDecay(0.05, decay_steps=10,
                                                              decay_rate=0.5)
        model.compile(lib.optimizers.SGD(schedule), "mse")
        reduce = lib.callbacks.ReduceLROnPlateau(monitor="loss", patience=1)
        reduce.set_model(model)
        reduce.on_train_begin()
        logs = {"loss": 1.0}
        reduce.on_epoch_end(0, logs)
        with pytest.raises(TypeError) as reduce_error:
            reduce.on_epoch_end(1, {"loss": 2.0})
        scheduler = lib.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2)
        scheduler.set_model(model)
        with pytest.raises(TypeError) as scheduler_error:
            scheduler.on_epoch_begin(0)
        results.append((logs["learning_rate"], str(reduce_error.value),
                        str(scheduler_error.value)))
    assert results[1] == results[0]


def test_learning_rate_scheduler_trains_with_keras_rates(keras, rng, make_pair):
    keras_model, ember_model = make_pair(optimizer="Adam", learning_rate=0.02)
    x, y = regression_data(rng)
    (kh, _, kout), (eh, _, eout) = fit_both(
        keras, keras_model, ember_model, x, y, epochs=4,
        make_callbacks=lambda lib, m: [lib.callbacks.LearningRateScheduler(
            lambda epoch, lr: lr if epoch < 1 else lr * 0.37, verbose=1)])
    assert len(set(kh["learning_rate"])) == 4
    assert eh["learning_rate"] == kh["learning_rate"]
    assert eout == kout
    assert_same_history(eh, kh)
    assert_same_weights(ember_model, keras_model)


def test_learning_rate_scheduler_accepts_one_argument_schedule(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    (kh, _, _), (eh, _, _) = fit_both(
        keras, keras_model, ember_model, x, y, epochs=3,
        make_callbacks=lambda lib, m: [
            lib.callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))])
    assert eh["learning_rate"] == kh["learning_rate"]
    assert_same_history(eh, kh)


def test_learning_rate_scheduler_rejects_non_float_like_keras(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    messages = []
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        with pytest.raises(ValueError) as err:
            model.fit(x, y, batch_size=8, verbose=0, callbacks=[
                lib.callbacks.LearningRateScheduler(lambda epoch, lr: 1)])
        messages.append(str(err.value))
    assert messages[1] == messages[0]


# -- CSVLogger -----------------------------------------------------------------------


def read_rows(path):
    with open(path, newline="") as f:
        return f.read().split("\r\n")


def assert_same_csv(got_path, expected_path, separator=","):
    got, expected = read_rows(got_path), read_rows(expected_path)
    assert len(got) == len(expected)
    assert got[0] == expected[0]  # the header, byte for byte
    for got_row, expected_row in zip(got[1:], expected[1:]):
        got_cells, expected_cells = got_row.split(separator), expected_row.split(separator)
        assert len(got_cells) == len(expected_cells)
        if not expected_cells[0]:
            continue  # the empty string after the last line's terminator
        assert got_cells[0] == expected_cells[0]  # the epoch
        for g, e in zip(got_cells[1:], expected_cells[1:]):
            if e == "NA":
                assert g == e
            else:
                np.testing.assert_allclose(float(g), float(e), rtol=RTOL, atol=ATOL)


def test_csv_logger_writes_keras_file_with_validation(keras, rng, tmp_path, make_pair):
    keras_model, ember_model = make_pair()
    x, y, x_val, y_val = regression_data(rng, validation=16)
    fit_both(keras, keras_model, ember_model, x, y, epochs=3, validation_data=(x_val, y_val),
             make_callbacks=lambda lib, m: [
                 lib.callbacks.ReduceLROnPlateau(patience=1, factor=0.5),
                 lib.callbacks.CSVLogger(tmp_path / f"{lib.__name__}.csv")])
    assert read_rows(tmp_path / "ember.csv")[0] == \
        "epoch,learning_rate,loss,mae,val_loss,val_mae"
    assert_same_csv(tmp_path / "ember.csv", tmp_path / "keras.csv")


def test_csv_logger_fills_missing_validation_with_na(keras, rng, tmp_path, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    fit_both(keras, keras_model, ember_model, x, y, epochs=2,
             make_callbacks=lambda lib, m: [
                 lib.callbacks.CSVLogger(str(tmp_path / f"{lib.__name__}.csv"), separator=";")])
    rows = read_rows(tmp_path / "ember.csv")
    assert rows[0] == "epoch;loss;mae;val_loss;val_mae" and rows[1].endswith(";NA;NA")
    assert rows[-1] == ""
    assert_same_csv(tmp_path / "ember.csv", tmp_path / "keras.csv", separator=";")


def test_csv_logger_appends_without_a_second_header(keras, rng, tmp_path, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)
    for epochs in (2, 3):
        fit_both(keras, keras_model, ember_model, x, y, epochs=epochs,
                 make_callbacks=lambda lib, m: [
                     lib.callbacks.CSVLogger(tmp_path / f"{lib.__name__}.csv", append=True)])
    rows = read_rows(tmp_path / "ember.csv")
    assert [r.split(",")[0] for r in rows] == ["epoch", "0", "1", "0", "1", "2", ""]
    assert_same_csv(tmp_path / "ember.csv", tmp_path / "keras.csv")


def test_csv_logger_writes_list_values_as_keras_does(keras, tmp_path):
    written = []
    for lib in (keras, ember):
        path = tmp_path / f"{lib.__name__}.csv"
        logger = lib.callbacks.CSVLogger(path)
        logger.on_train_begin()
        logger.on_epoch_end(0, {"loss": 0.25, "per_class": np.array([0.5, 1.5]), "note": "ok",
                                "count": 3, "val_loss": np.float32(0.75)})
        logger.on_epoch_end(1, {"loss": 0.125})
        logger.on_train_end()
        written.append(path.read_bytes())
    assert written[1] == written[0]


# -- TerminateOnNaN --------------------------------------------------------------------


def test_terminate_on_nan_stops_at_keras_batch(keras, rng, make_pair):
    # A learning rate this large overflows the squared error at the second batch.
    keras_model, ember_model = make_pair(learning_rate=1e30)
    x, y, x_val, y_val = regression_data(rng, validation=16)
    batches = {keras: [], ember: []}

    def callbacks(lib, model):
        count = lib.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: batches[lib].append((batch, logs["loss"])))
        return [lib.callbacks.TerminateOnNaN(), count]

    (kh, _, kout), (eh, _, eout) = fit_both(keras, keras_model, ember_model, x, y, epochs=3,
                                            validation_data=(x_val, y_val),
                                            make_callbacks=callbacks)
    assert eout == kout and kout.startswith("Batch ")
    assert [b for b, _ in batches[ember]] == [b for b, _ in batches[keras]]
    assert not np.isfinite(batches[ember][-1][1]) and np.isfinite(batches[ember][0][1])
    assert list(eh) == list(kh) and len(eh["loss"]) == len(kh["loss"]) == 1


def test_terminate_on_nan_can_raise_like_keras(keras, rng, make_pair):
    keras_model, ember_model = make_pair(learning_rate=1e30)
    x, y = regression_data(rng)
    messages = []
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        with pytest.raises(RuntimeError) as err:
            model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                      callbacks=[lib.callbacks.TerminateOnNaN(raise_error=True)])
        messages.append(str(err.value))
    assert messages[1] == messages[0]


def test_terminate_on_nan_listens_per_train_batch_only():
    callbacks = ember.callbacks.CallbackList([ember.callbacks.TerminateOnNaN()])
    assert callbacks.listens_per_batch("train")
    assert not callbacks.listens_per_batch("test")
    assert not callbacks.listens_per_batch("predict")


# -- hooks, params and stop_training ---------------------------------------------------

HOOKS = [name for name in dir(ember.callbacks.Callback) if name.startswith("on_")]


def _copied(value):
    return dict(value) if isinstance(value, dict) else value


def recording(hook):
    def record(self, *args, **kwargs):
        self.calls.append((hook, tuple(_copied(a) for a in args),
                           {k: _copied(v) for k, v in kwargs.items()}))
    return record


def recorder_class(lib, hooks=HOOKS):
    """A Callback subclass recording each call of `hooks` as (hook, args, kwargs)."""

    class Recorder(lib.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.calls = []

    for hook in hooks:
        setattr(Recorder, hook, recording(hook))
    return Recorder


def assert_same_value(got, expected, where):
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), where
        for key in expected:
            assert_same_value(got[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (int, str)) and not isinstance(expected, bool):
        assert type(got) is type(expected) and got == expected, where
    else:
        assert type(got) is type(expected), where
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=where)


def assert_same_calls(got, expected):
    assert [c[0] for c in got] == [c[0] for c in expected]
    for i, ((hook, args, kwargs), (_, k_args, k_kwargs)) in enumerate(zip(got, expected)):
        assert len(args) == len(k_args) and list(kwargs) == list(k_kwargs), (i, hook)
        for j, (a, e) in enumerate(zip(args, k_args)):
            assert_same_value(a, e, f"call {i} {hook} arg {j}")
        for key in k_kwargs:
            assert_same_value(kwargs[key], k_kwargs[key], f"call {i} {hook} {key}")


class CountingCore:
    """Stands in for a model's engine and counts its train/test calls."""

    def __init__(self, model):
        self._core = model._core
        self.calls = {"train_batches": 0, "test_batches": 0}
        model._core = self

    def __getattr__(self, name):
        attr = getattr(self._core, name)
        if name not in self.calls:
            return attr

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


def test_hook_calls_match_keras_in_fit_evaluate_and_predict(keras, rng, make_pair):
    # "accuracy" sorts before "loss": Keras hands callbacks the logs with sorted keys.
    keras_model, ember_model = make_pair(outputs=2, metrics=("mae", "accuracy"))
    x, y, x_val, y_val = regression_data(rng, n=20, outputs=2, validation=16)
    recorders = {}
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        rec = recorders[lib] = recorder_class(lib)()
        model.fit(x, y, batch_size=8, epochs=2, validation_data=(x_val, y_val), shuffle=False,
                  verbose=0, callbacks=[rec])
        assert rec.params == {"verbose": 0, "epochs": 2, "steps": 3}
        model.evaluate(x_val, y_val, batch_size=8, verbose=0, callbacks=[rec])
        assert rec.params == {"verbose": 0, "epochs": 1, "steps": 2}
        model.predict(x, batch_size=8, verbose=0, callbacks=[rec])
        assert rec.model is model
    assert_same_calls(recorders[ember].calls, recorders[keras].calls)
    hooks = {c[0] for c in recorders[ember].calls}
    assert {"on_train_batch_end", "on_test_batch_end", "on_predict_batch_end"} <= hooks


def test_epoch_level_hooks_match_keras_with_one_engine_call_per_epoch(keras, rng, make_pair):
    epoch_hooks = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                   "on_test_begin", "on_test_end"]
    keras_model, ember_model = make_pair()
    x, y, x_val, y_val = regression_data(rng, n=24, validation=16)
    counter = CountingCore(ember_model)
    recorders = {}
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        rec = recorders[lib] = recorder_class(lib, epoch_hooks)()
        model.fit(x, y, batch_size=8, epochs=3, validation_data=(x_val, y_val), shuffle=False,
                  verbose=0, callbacks=[rec])
    assert_same_calls(recorders[ember].calls, recorders[keras].calls)
    assert counter.calls == {"train_batches": 3, "test_batches": 3}


def test_legacy_batch_aliases_are_called_for_train_batches_only(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng, n=40)
    recorders = {}
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        rec = recorders[lib] = recorder_class(lib, ["on_batch_begin", "on_batch_end"])()
        model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, shuffle=False,
                  verbose=0, callbacks=[rec])
        model.evaluate(x, y, batch_size=8, verbose=0, callbacks=[rec])
    assert len(recorders[keras].calls) == 2 * 4 * 2
    assert_same_calls(recorders[ember].calls, recorders[keras].calls)


def test_default_params_keep_verbose_auto_as_keras(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng, n=24)
    params = []
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        rec = recorder_class(lib, [])()
        with contextlib.redirect_stdout(io.StringIO()):
            model.fit(x, y, batch_size=8, epochs=2, callbacks=[rec])
        params.append(rec.params)
    assert params[1] == params[0] == {"verbose": "auto", "epochs": 2, "steps": 3}


def logging_lambda_callback(lib, log):
    return lib.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: log.append(("epoch_begin", epoch, logs)),
        on_epoch_end=lambda epoch, logs: log.append(("epoch_end", epoch, dict(logs))),
        on_train_begin=lambda logs: log.append(("train_begin", logs)),
        on_train_end=lambda logs: log.append(("train_end", dict(logs))),
        on_train_batch_end=lambda batch, logs: log.append(("batch_end", batch, dict(logs))),
        on_test_end=lambda logs: log.append(("test_end", dict(logs))),
        on_predict_batch_begin=lambda batch, logs: log.append(("predict_begin", batch, logs)))


def test_lambda_callback_calls_functions_as_keras_does(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng, n=40)
    calls = {keras: [], ember: []}
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        cb = logging_lambda_callback(lib, calls[lib])
        model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, shuffle=False, verbose=0,
                  callbacks=[cb])
        model.predict(x, batch_size=8, verbose=0, callbacks=[cb])
    assert [c[0] for c in calls[ember]] == [c[0] for c in calls[keras]]
    for i, (got, expected) in enumerate(zip(calls[ember], calls[keras])):
        for j, (g, e) in enumerate(zip(got[1:], expected[1:])):
            assert_same_value(g, e, f"call {i} {got[0]} arg {j}")


def test_stop_training_from_epoch_end_stops_after_that_epoch(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng)

    def stop_at_second_epoch(lib, model):
        def on_epoch_end(epoch, logs):
            if epoch == 1:
                model.stop_training = True
        return [lib.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)]

    (kh, _, _), (eh, _, _) = fit_both(keras, keras_model, ember_model, x, y, epochs=5,
                                      make_callbacks=stop_at_second_epoch)
    assert len(eh["loss"]) == len(kh["loss"]) == 2
    assert_same_history(eh, kh)


def test_stop_training_from_a_batch_ends_the_epoch_after_that_batch(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y, x_val, y_val = regression_data(rng, validation=16)
    seen = {keras: [], ember: []}

    def stop_at_third_batch(lib, model):
        def on_train_batch_end(batch, logs):
            seen[lib].append(batch)
            if batch == 2:
                model.stop_training = True
        return [lib.callbacks.LambdaCallback(on_train_batch_end=on_train_batch_end)]

    (kh, _, _), (eh, _, _) = fit_both(keras, keras_model, ember_model, x, y, epochs=3,
                                      validation_data=(x_val, y_val),
                                      make_callbacks=stop_at_third_batch)
    assert seen[ember] == seen[keras] == [0, 1, 2]
    assert_same_history(eh, kh)  # the epoch's logs average three batches; validation ran
    assert_same_weights(ember_model, keras_model)


def test_logs_hold_float32_values_as_keras_does(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y, x_val, y_val = regression_data(rng, validation=16)
    (kh, _, _), (eh, _, _) = fit_both(keras, keras_model, ember_model, x, y, epochs=2,
                                      validation_data=(x_val, y_val),
                                      make_callbacks=lambda lib, m: [])
    for history in (kh, eh):
        values = [v for series in history.values() for v in series]
        assert all(type(v) is float and float(np.float32(v)) == v for v in values)
    assert_same_history(eh, kh)


def test_a_users_history_is_the_one_fit_returns(keras, rng, make_pair):
    keras_model, ember_model = make_pair()
    x, y = regression_data(rng, n=24)
    for lib, model in ((keras, keras_model), (ember, ember_model)):
        history = lib.callbacks.History()
        returned = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[history])
        assert returned is history and model.history is history
        assert history.epoch == [0, 1] and len(history.history["loss"]) == 2


# -- per-batch Python only when something listens --------------------------------------


def test_epoch_level_callbacks_run_each_epoch_in_one_engine_call(rng, tmp_path):
    model = build(ember)
    model.compile(ember.optimizers.SGD(0.01), "mse", metrics=["mae"])
    x, y = regression_data(rng, n=64)
    callbacks = [
        ember.callbacks.EarlyStopping(monitor="loss", patience=50),
        ember.callbacks.ReduceLROnPlateau(monitor="loss"),
        ember.callbacks.LearningRateScheduler(lambda epoch, lr: lr),
        ember.callbacks.CSVLogger(tmp_path / "log.csv"),
        ember.callbacks.History(),
        ember.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: None),
    ]
    assert not ember.callbacks.CallbackList(callbacks).listens_per_batch("train")
    counter = CountingCore(model)
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=callbacks)
    assert counter.calls["train_batches"] == 4
    assert len(history.history["loss"]) == 4


def test_a_batch_listener_brings_python_back_per_batch(rng):
    model = build(ember)
    model.compile(ember.optimizers.SGD(0.01), "mse")
    x, y = regression_data(rng, n=64)
    counter = CountingCore(model)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0,
              callbacks=[ember.callbacks.TerminateOnNaN()])
    assert counter.calls["train_batches"] == 2 * 8
