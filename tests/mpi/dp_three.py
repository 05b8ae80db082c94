"""mpiexec -n 3: a data set whose size is no multiple of the batch, on 3 ranks, equals
one process: 194 training rows in batches of 64 end with a batch of 2, whose shard on
rank 0 is empty; a validation set of 50 rows (one batch, shards 16/17/17); class
weights; a PyDataset of 5 batches (the last step has no batch on rank 2)."""

import numpy as np
from dp_helpers import assert_same_training, build, data, data_parallel, ember, start

rank, size, comm = start()
assert size == 3
layers = ember.layers


def mlp():
    model = ember.Sequential([
        ember.Input(shape=(10,)), layers.Dense(24, activation="relu"),
        layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=ember.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


x, y = data(194, 10)
xv, yv = data(50, 10, seed=7)
kwargs = dict(batch_size=64, epochs=3, validation_data=(xv, yv), verbose=0,
              class_weight={0: 1.0, 1: 2.0, 2: 0.5})
data_parallel(True)
model = build(mlp)
history = model.fit(x, y, **kwargs)
evaluated = model.evaluate(xv, yv, batch_size=64, verbose=0)
predicted = model.predict(x[:2], verbose=0)  # fewer rows than ranks: rank 0 predicts none
data_parallel(False)
reference = build(mlp)
reference_history = reference.fit(x, y, **kwargs)
assert_same_training(rank, "194 rows on 3 ranks", model, reference, history,
                     reference_history, evaluated,
                     reference.evaluate(xv, yv, batch_size=64, verbose=0))
np.testing.assert_allclose(predicted, reference.predict(x[:2], verbose=0), rtol=1e-5,
                           atol=1e-6)


class Batches(ember.utils.PyDataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return x[i * 20:(i + 1) * 20], y[i * 20:(i + 1) * 20]


data_parallel(True)
model = build(mlp)
history = model.fit(Batches(), epochs=2, shuffle=False, verbose=0)
data_parallel(False)
reference = build(mlp)
reference_history = reference.fit(x[:100], y[:100], batch_size=60, epochs=2, shuffle=False,
                                  verbose=0)
assert_same_training(rank, "PyDataset of 5 batches on 3 ranks", model, reference, history,
                     reference_history)
print(f"rank {rank}: three ranks OK", flush=True)
