"""fit/evaluate/predict from generators, iterators and ember.utils.PyDataset: the same
batches as arrays give bit-identical training; steps, warnings and History as Keras 3;
workers (threads and processes) keep the order and report their errors."""

import multiprocessing
import warnings

import ember
import numpy as np
import pytest
from parity import assert_weights_close


def _model(lib=ember, inputs=4, seed_weights=None):
    model = lib.Sequential([lib.Input((inputs,)), lib.layers.Dense(5, activation="tanh"),
                            lib.layers.Dense(1)])
    if seed_weights is not None:
        model.set_weights(seed_weights)
    model.compile(optimizer=lib.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def _data(rng, n=50):
    return (rng.normal(size=(n, 4)).astype(np.float32),
            rng.normal(size=(n, 1)).astype(np.float32))


def _batches(x, y, size=10, sw=None):
    for i in range(0, len(x), size):
        if sw is None:
            yield x[i:i + size], y[i:i + size]
        else:
            yield x[i:i + size], y[i:i + size], sw[i:i + size]


def _forever(x, y, size=10):
    while True:
        yield from _batches(x, y, size)


def _dataset_class(lib):
    class Batches(lib.utils.PyDataset):
        """Batch `i` is rows [10i, 10i + 10); `log` records reads and epoch hooks."""

        def __init__(self, x, y, size=10, fail_at=None, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.size, self.fail_at = x, y, size, fail_at
            self.log = []

        def __len__(self):
            return -(-len(self.x) // self.size)

        def __getitem__(self, i):
            if i == self.fail_at:
                raise KeyError(f"no batch {i} here")
            self.log.append(i)
            return self.x[i * self.size:(i + 1) * self.size], \
                self.y[i * self.size:(i + 1) * self.size]

        def on_epoch_begin(self):
            self.log.append("begin")

        def on_epoch_end(self):
            self.log.append("end")
    return Batches


Batches = _dataset_class(ember)


class Infinite(ember.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    @property
    def num_batches(self):
        return None

    def __getitem__(self, i):
        i %= 5
        return self.x[i * 10:(i + 1) * 10], self.y[i * 10:(i + 1) * 10]


def _assert_same(a, b):
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)


def _fit(model, data, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(data, verbose=0, **kwargs).history
    return history, [str(w.message) for w in caught]


def _ran_out(messages):
    return sum("ran out of data" in m for m in messages)


# -- the same batches as arrays: bit-identical --------------------------------------
@pytest.mark.parametrize("source", ["generator", "iterator", "pydataset", "threads"])
def test_streamed_batches_train_bit_identically_to_arrays(rng, source):
    x, y = _data(rng)
    sw = rng.uniform(0.5, 2.0, size=50).astype(np.float32)
    reference = _model()
    model = _model(seed_weights=reference.get_weights())
    ref_history = reference.fit(x, y, batch_size=10, epochs=3, shuffle=False, verbose=0,
                                sample_weight=None if source in ("pydataset", "threads") else sw
                                ).history
    if source == "generator":
        data = (b for _ in range(3) for b in _batches(x, y, sw=sw))
        history, _ = _fit(model, data, epochs=3, steps_per_epoch=5)
    elif source == "iterator":  # any iterator, batches given as lists
        data = iter([[list(a) for a in b] for b in _batches(x, y, sw=sw)] * 3)
        history, _ = _fit(model, data, epochs=3, steps_per_epoch=5)
    else:
        data = Batches(x, y, workers=3 if source == "threads" else 1)
        history, _ = _fit(model, data, epochs=3, shuffle=False)
    assert history == ref_history
    _assert_same(model, reference)
    np.testing.assert_array_equal(model.predict(_batches(x, y), verbose=0),
                                  reference.predict(x, verbose=0))
    assert model.evaluate(_batches(x, y, sw=sw), verbose=0) == \
        reference.evaluate(x, y, batch_size=10, sample_weight=sw, verbose=0)


def test_a_functional_model_streams_dict_inputs(rng):
    a, b = rng.normal(size=(30, 3)).astype(np.float32), rng.normal(size=(30, 2)).astype(np.float32)
    y = rng.normal(size=(30, 1)).astype(np.float32)
    models = []
    for _ in range(2):
        ia, ib = ember.Input((3,), name="a"), ember.Input((2,), name="b")
        out = ember.layers.Dense(1, name="d")(ember.layers.Concatenate(name="ab")([ia, ib]))
        models.append(ember.Model([ia, ib], out))
        models[-1].compile("sgd", "mse")
    models[1].set_weights(models[0].get_weights())
    models[0].fit({"a": a, "b": b}, y, batch_size=10, shuffle=False, verbose=0)
    _fit(models[1], (({"a": a[i:i + 10], "b": b[i:i + 10]}, y[i:i + 10]) for i in (0, 10, 20)))
    _assert_same(models[0], models[1])


# -- steps and running out, as Keras 3 ----------------------------------------------
def test_steps_per_epoch_over_a_pydataset_continues_the_pass_as_keras(keras, rng):
    x, y = _data(rng)
    km = _model(keras)
    em = _model(seed_weights=km.get_weights())
    kd, ed = _dataset_class(keras)(x, y), Batches(x, y)
    kh, kwarn = _fit(km, kd, epochs=3, steps_per_epoch=3, shuffle=False)
    eh, ewarn = _fit(em, ed, epochs=3, steps_per_epoch=3, shuffle=False)
    assert sorted(eh) == sorted(kh)
    for key in kh:
        np.testing.assert_allclose(eh[key], kh[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for e, k in zip(em.get_weights(), km.get_weights()):
        assert_weights_close(e, k, rtol=1e-5, atol=1e-6)
    assert _ran_out(ewarn) == _ran_out(kwarn) == 1
    reads = [i for i in ed.log if isinstance(i, int)]
    assert reads == [i for i in kd.log if isinstance(i, int)][-8:] == [0, 1, 2, 3, 4, 0, 1, 2]
    # ember calls the hooks around each epoch only (Keras also calls on_epoch_end once
    # before training begins).
    assert ed.log == ["begin", 0, 1, 2, "end", "begin", 3, 4, "end", "begin", 0, 1, 2, "end"]


def test_a_generator_with_steps_per_epoch_runs_out_as_keras(keras, rng):
    x, y = _data(rng)
    km = _model(keras)
    em = _model(seed_weights=km.get_weights())
    steps = {}
    for lib, model in (("keras", km), ("ember", em)):
        count = []
        cb = (keras if lib == "keras" else ember).callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs, count=count: count.append(batch))
        history, messages = _fit(model, _batches(x, y), epochs=2, steps_per_epoch=3,
                                 callbacks=[cb])
        steps[lib] = (count, _ran_out(messages), {k: len(v) for k, v in history.items()})
    assert steps["ember"] == steps["keras"] == ([0, 1, 2, 0, 1], 1, {"loss": 2, "mae": 2})
    for e, k in zip(em.get_weights(), km.get_weights()):
        assert_weights_close(e, k, rtol=1e-5, atol=1e-6)


def test_a_generator_that_ends_stops_training_with_keras_warning(rng):
    # Keras 3 would replay the two batches it peeked at in every later epoch; ember's
    # generator stays exhausted, so training stops after the epoch that used it up.
    x, y = _data(rng)
    model = _model()
    epochs = []
    cb = ember.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: epochs.append(e))
    history, messages = _fit(model, _batches(x, y), epochs=3, callbacks=[cb])
    assert epochs == [0] and len(history["loss"]) == 1
    assert _ran_out(messages) == 1
    assert any("ignored since the data `x` was provided as a generator" in m for m in messages)
    _, messages = _fit(_model(), _batches(x, y), epochs=1, shuffle=False)
    assert messages == []  # one epoch that uses the generator up is not interrupted


def test_evaluate_and_predict_take_steps_as_keras(keras, rng):
    x, y = _data(rng)
    km = _model(keras)
    em = _model(seed_weights=km.get_weights())
    for steps in (2, 7):
        got = {}
        for lib, model in (("keras", km), ("ember", em)):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got[lib] = (model.evaluate(x, y, batch_size=10, steps=steps, verbose=0),
                            model.predict(x, batch_size=10, steps=steps, verbose=0),
                            _ran_out(str(w.message) for w in caught))
        np.testing.assert_allclose(got["ember"][0], got["keras"][0], rtol=1e-5)
        np.testing.assert_allclose(got["ember"][1], got["keras"][1], rtol=1e-5, atol=1e-6)
        assert got["ember"][2] == got["keras"][2] == (2 if steps == 7 else 0)
    assert len(em.predict(Batches(x, y), steps=2, verbose=0)) == 20


# -- PyDataset -----------------------------------------------------------------------
def test_shuffle_permutes_a_pydataset_batch_order_each_epoch_reproducibly(rng):
    x, y = _data(rng, 80)
    logs = []
    for _ in range(2):
        ember.utils.set_random_seed(7)
        data = Batches(x, y)
        _fit(_model(), data, epochs=3)
        logs.append([i for i in data.log if isinstance(i, int)])
    assert logs[0] == logs[1]
    epochs = [logs[0][i:i + 8] for i in (0, 8, 16)]
    assert all(sorted(e) == list(range(8)) for e in epochs)
    assert epochs[0] != list(range(8)) or epochs[1] != list(range(8))


def test_an_infinite_pydataset_needs_steps_per_epoch(rng):
    x, y = _data(rng)
    model = _model()
    with pytest.raises(ValueError, match="infinite.*steps_per_epoch"):
        model.fit(Infinite(x, y), verbose=0)
    reference = _model(seed_weights=model.get_weights())
    history, messages = _fit(model, Infinite(x, y), epochs=2, steps_per_epoch=7)
    assert len(history["loss"]) == 2
    assert any("infinite PyDataset" in m for m in messages)  # shuffle=True is ignored
    # the count of batches continues across epochs: 14 batches, rows 0..49 cycled
    rows = np.arange(140) % 50
    reference.fit(x[rows], y[rows], batch_size=10, epochs=1, shuffle=False, verbose=0)
    _assert_same(model, reference)
    with pytest.raises(ValueError, match="infinite.*`steps`"):
        model.evaluate(Infinite(x, y), verbose=0)


def test_sequence_is_pydataset_and_a_missing_super_init_warns():
    assert ember.utils.Sequence is ember.utils.PyDataset

    class NoSuper(ember.utils.PyDataset):
        def __init__(self):
            pass

    with pytest.warns(UserWarning, match=r"super\(\)\.__init__"):
        assert NoSuper().workers == 1


def _children():
    return [p for p in multiprocessing.active_children()]


def test_worker_processes_keep_the_order_and_are_joined(rng):
    x, y = _data(rng)
    reference = _model()
    model = _model(seed_weights=reference.get_weights())
    before = _children()
    _fit(reference, Batches(x, y), epochs=2, shuffle=False)
    history, _ = _fit(model, Batches(x, y, workers=2, use_multiprocessing=True,
                                     max_queue_size=2), epochs=2, shuffle=False)
    assert len(history["loss"]) == 2
    _assert_same(model, reference)
    assert _children() == before


@pytest.mark.parametrize("processes", [False, True])
def test_an_error_in_a_worker_is_raised_in_the_caller(rng, processes):
    x, y = _data(rng)
    model = _model()
    before = _children()
    data = Batches(x, y, fail_at=3, workers=2, use_multiprocessing=processes)
    with pytest.raises(KeyError, match="no batch 3 here"):
        model.fit(data, epochs=2, verbose=0)
    assert data.log[-1] == "end"  # the epoch was closed
    assert _children() == before
    model.fit(Batches(x, y, workers=2, use_multiprocessing=processes), verbose=0)


# -- validation ----------------------------------------------------------------------
@pytest.mark.parametrize("source", ["pydataset", "generator", "arrays"])
def test_validation_from_streams_with_validation_steps(rng, source):
    x, y = _data(rng)
    vx, vy = _data(rng, 40)
    model = _model()
    if source == "pydataset":
        val = Batches(vx, vy)
    elif source == "generator":
        val = _forever(vx, vy)
    else:
        val = (vx, vy)
    logs = []

    def record(epoch, lg):
        halves = [model.evaluate(vx[i:i + 20], vy[i:i + 20], batch_size=10, verbose=0)[0]
                  for i in (0, 20)]
        logs.append((dict(lg), halves))

    cb = ember.callbacks.LambdaCallback(on_epoch_end=record)
    history, _ = _fit(model, _forever(x, y), epochs=4, steps_per_epoch=5, validation_data=val,
                      validation_steps=2, validation_freq=[2, 4], validation_batch_size=10,
                      callbacks=[cb])
    assert len(history["loss"]) == 4 and len(history["val_loss"]) == 2
    assert ["val_loss" in lg for lg, _ in logs] == [False, True, False, True]
    # Each validation reads the first 2 batches again; a generator goes on from where
    # the last validation left it.
    assert logs[1][0]["val_loss"] == logs[1][1][0]
    assert logs[3][0]["val_loss"] == logs[3][1][1 if source == "generator" else 0]


# -- bad data --------------------------------------------------------------------------
@pytest.mark.parametrize("bad, match", [
    ("not a batch", "Batch 0 of the data is not a batch"),
    (7, "Batch 0 of the data is not a batch"),
    ((1, 2, 3, 4), "Batch 0 of the data is not a batch"),
])
def test_a_generator_yielding_something_else_is_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        _model().fit((b for b in [bad]), verbose=0)


def test_inconsistent_batches_name_the_batch(rng):
    x, y = _data(rng)
    model = _model()

    def shapes():
        yield x[:10], y[:10]
        yield x[10:20, :3], y[10:20]

    with pytest.raises(ValueError, match="Batch 1 of the data.*expected shape"):
        model.fit(shapes(), verbose=0)
    with pytest.raises(ValueError, match="Batch 0 of the data.*same number of samples"):
        model.fit(iter([(x[:10], y[:9])]), verbose=0)
    with pytest.raises(TypeError, match="Batch 0 of the data.*numeric"):
        model.fit(iter([(np.array([["a"] * 4]), y[:1])]), verbose=0)
    with pytest.raises(ValueError, match="Batch 0 of the data.*`y` is required"):
        model.evaluate(iter([x[:10]]), verbose=0)


def test_stream_arguments_keras_rejects(rng):
    x, y = _data(rng)
    model = _model()
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(_batches(x, y), y, verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` should not be passed"):
        model.evaluate(Batches(x, y), sample_weight=np.ones(50), verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(_batches(x, y), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        model.fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="validation_freq"):
        model.fit(_batches(x, y), validation_freq="2", verbose=0)


def test_the_progress_bar_counts_a_generators_steps(rng, capsys):
    x, y = _data(rng)
    _model().fit(_forever(x, y), epochs=1, steps_per_epoch=5, verbose=2)
    _model().fit(_batches(x, y), epochs=1, verbose=2)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "loss" in ln]
    assert len(lines) == 2 and all(ln.startswith("5/5") for ln in lines)
