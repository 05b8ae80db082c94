"""mpiexec -n 2: data-parallel training equals one process with the same global batch
(weights after 3 epochs, History, evaluate, predict) for an MLP with
BatchNormalization, Adam and a validation split, a convolutional model, a recurrent
one (Embedding with a mask, LSTM), and the same MLP fed by a PyDataset (batch i on
rank i % 2) and by per-rank generators."""

import numpy as np
from dp_helpers import SEED, assert_same_training, build, data, data_parallel, ember, start

rank, size, comm = start()
layers = ember.layers


def mlp():
    # No bias before BatchNormalization: its gradient is zero but for rounding, which Adam
    # would scale up to full steps of noise.
    model = ember.Sequential([
        ember.Input(shape=(10,)), layers.Dense(32, use_bias=False), layers.BatchNormalization(),
        layers.Activation("relu"), layers.Dense(16, activation="tanh"),
        layers.Dense(3, activation="softmax")])
    model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def convnet():
    model = ember.Sequential([
        ember.Input(shape=(8, 8, 2)), layers.Conv2D(4, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3)])
    model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01),
                  loss=ember.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


x, y = data(300, 10)
fit_args = dict(batch_size=64, epochs=3, validation_split=0.2, verbose=0)


def both(make, x, y, **kwargs):
    """(data-parallel model, its History, one process's model, its History)."""
    data_parallel(True)
    model = build(make)
    history = model.fit(x, y, **kwargs)
    data_parallel(False)
    reference = build(make)
    reference_history = reference.fit(x, y, **kwargs)
    return model, history, reference, reference_history


# The MLP: fit, evaluate (sharded, metrics summed over ranks), predict (gathered).
model, history, reference, reference_history = both(mlp, x, y, **fit_args)
data_parallel(True)
evaluated = model.evaluate(x, y, batch_size=64, verbose=0)
predicted = model.predict(x[:101], batch_size=16, verbose=0)
data_parallel(False)
assert_same_training(rank, "MLP", model, reference, history, reference_history, evaluated,
                     reference.evaluate(x, y, batch_size=64, verbose=0))
np.testing.assert_allclose(predicted, reference.predict(x[:101], batch_size=16, verbose=0),
                           rtol=1e-5, atol=1e-6, err_msg=f"rank {rank}: predict")
assert predicted.shape == (101, 3)

# A convolutional model.
images = np.random.default_rng(SEED + 1).normal(size=(200, 8, 8, 2)).astype(np.float32)
labels = (images[:, :4, :4, 0].sum(axis=(1, 2)) > 0).astype(np.int64) + (
    images[:, 4:, 4:, 1].sum(axis=(1, 2)) > 1)
model, history, reference, reference_history = both(convnet, images, labels, **fit_args)
assert_same_training(rank, "convnet", model, reference, history, reference_history)


# A recurrent model: token ids with padding (masked), an LSTM.
def recurrent():
    model = ember.Sequential([
        ember.Input(shape=(6,), dtype="int32"), layers.Embedding(20, 8, mask_zero=True),
        layers.LSTM(8), layers.Dense(3)])
    model.compile(optimizer=ember.optimizers.RMSprop(learning_rate=0.01),
                  loss=ember.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


rng = np.random.default_rng(SEED + 2)
tokens = rng.integers(1, 20, size=(150, 6))
tokens[np.arange(6) >= rng.integers(2, 7, size=(150, 1))] = 0  # padded after 2-6 tokens
model, history, reference, reference_history = both(recurrent, tokens, tokens[:, 0] % 3,
                                                     **fit_args)
assert_same_training(rank, "recurrent", model, reference, history, reference_history)


# A PyDataset of batches of 32: a global step is batches (2s, 2s+1), 64 rows, the same
# as one process's arrays in batches of 64 without shuffling.
class Batches(ember.utils.PyDataset):
    def __len__(self):
        return 240 // 32 + 1  # 8 batches: the last holds 16 rows

    def __getitem__(self, i):
        return x[i * 32:min((i + 1) * 32, 240)], y[i * 32:min((i + 1) * 32, 240)]


data_parallel(True)
model = build(mlp)
history = model.fit(Batches(), epochs=3, shuffle=False, verbose=0)
evaluated = model.evaluate(Batches(), verbose=0)
predicted = model.predict(Batches(), verbose=0)
data_parallel(False)
reference = build(mlp)
reference_history = reference.fit(x[:240], y[:240], batch_size=64, epochs=3, shuffle=False,
                                  verbose=0)
assert_same_training(rank, "PyDataset", model, reference, history, reference_history,
                     evaluated, reference.evaluate(x[:240], y[:240], batch_size=64, verbose=0))
np.testing.assert_allclose(predicted, reference.predict(x[:240], verbose=0), rtol=1e-5,
                           atol=1e-6, err_msg=f"rank {rank}: predict(PyDataset)")


# Per-rank generators: each yields this rank's half of every global batch of 64.
def my_part(epochs):
    for _ in range(epochs):
        for begin in range(0, 240, 64):
            rows = slice(begin + 32 * rank, min(begin + 32 * (rank + 1), 240))
            yield x[rows], y[rows]


data_parallel(True)
model = build(mlp)
history = model.fit(my_part(3), steps_per_epoch=4, epochs=3, shuffle=False, verbose=0)
data_parallel(False)
assert_same_training(rank, "generator", model, reference, history, reference_history)
print(f"rank {rank}: parity OK", flush=True)
