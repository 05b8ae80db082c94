"""mpiexec -n 2 dp_files.py SEED FOLDER: EarlyStopping stops every rank at the same
epoch; ModelCheckpoint, CSVLogger, model.save and save_weights write on rank 0 only
(each rank works in FOLDER/rank<r>, so what rank 1 wrote would show there); a save
that fails on rank 0 raises on every rank; a model or batch size that differs across
ranks, and generators that yield different numbers of batches, raise a clear
ValueError on every rank."""

import os
import sys

import numpy as np
from dp_helpers import build, data, data_parallel, ember, start

rank, size, comm = start()
folder = os.path.join(sys.argv[2], f"rank{rank}")
os.makedirs(folder, exist_ok=True)
os.chdir(folder)
layers = ember.layers


def mlp(width=16):
    model = ember.Sequential([ember.Input(shape=(10,)), layers.Dense(width, activation="relu"),
                              layers.BatchNormalization(), layers.Dense(3)])
    model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.05),
                  loss=ember.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


x, y = data(256, 10)
xv, yv = data(64, 10, seed=99)  # another draw: validation loss stops improving soon
data_parallel(True)
model = build(mlp)
history = model.fit(
    x, y, batch_size=64, epochs=40, validation_data=(xv, yv), verbose=0,
    callbacks=[ember.callbacks.EarlyStopping(patience=2, restore_best_weights=True),
               ember.callbacks.ModelCheckpoint("best.keras", save_best_only=True),
               ember.callbacks.ModelCheckpoint("ckpt/w-{epoch:02d}.weights.h5",
                                               save_weights_only=True),
               ember.callbacks.CSVLogger("log.csv")])
epochs = len(history.history["loss"])
assert 1 < epochs < 40, f"rank {rank}: EarlyStopping never stopped ({epochs} epochs)"
assert comm.allgather(epochs) == [epochs] * size, comm.allgather(epochs)
assert comm.allgather(history.history) == [history.history] * size
model.save("final.keras")
model.save_weights("final.weights.h5")
predicted = model.predict(x, verbose=0)  # a collective: every rank gets every row
assert predicted.shape == (256, 3)
if rank == 0:
    np.save("inputs.npy", x)  # the script's own files, for the test to compare in Keras
    np.save("predicted.npy", predicted)
written = sorted(os.listdir("."))
if rank == 0:
    wanted = {"best.keras", "ckpt", "log.csv", "final.keras", "final.weights.h5",
              "inputs.npy", "predicted.npy"}
    assert set(written) == wanted, written
    assert len(os.listdir("ckpt")) == epochs, os.listdir("ckpt")
    with open("log.csv") as f:
        assert len(f.read().strip().splitlines()) == epochs + 1
else:
    assert written == [], f"rank {rank} wrote {written}"
comm.Barrier()


def raises(what, expected, call):
    try:
        call()
    except ValueError as e:
        assert all(word in str(e) for word in expected), f"rank {rank}, {what}: {e}"
        return
    raise AssertionError(f"rank {rank}: {what} did not raise")


# A save that fails on rank 0 (here: a folder where the file should go) raises on every
# rank, rank 0's error type and message - no rank is left waiting for the others.
if rank == 0:
    os.mkdir("taken.keras")
try:
    model.save("taken.keras")
except OSError as e:
    assert "taken.keras" in str(e), f"rank {rank}: {e}"
else:
    raise AssertionError(f"rank {rank}: a failed save on rank 0 did not raise")


# Errors found before the first step, the same on every rank (so they can be caught).
raises("batch size", ["batch_size", "rank 0 has 64", "rank 1 has 32"],
       lambda: model.fit(x, y, batch_size=64 if rank == 0 else 32, verbose=0))
other = build(lambda: mlp(width=16 if rank == 0 else 17))
raises("model", ["weights", "(10, 16)", "(10, 17)"],
       lambda: other.fit(x, y, batch_size=64, verbose=0))


def batches(count):
    for i in range(count):
        yield x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]


raises("generator lengths", ["step 3", "no more batches"],
       lambda: model.fit(batches(3 if rank == 1 else 5), epochs=1, shuffle=False,
                         verbose=0))
print(f"rank {rank}: files OK after {epochs} epochs", flush=True)
