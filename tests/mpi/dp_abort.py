"""mpiexec -n 2 dp_abort.py SEED: rank 1 raises inside fit's second epoch while rank 0
goes on into the next collective; the whole job must end, with rank 1's error printed."""

from dp_helpers import build, data, data_parallel, ember, start

rank, size, comm = start()


class Fail(ember.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if rank == 1 and epoch == 1:
            raise OSError("No space left on device (raised on rank 1 by dp_abort.py)")


def mlp():
    model = ember.Sequential([ember.Input(shape=(10,)), ember.layers.Dense(8),
                              ember.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    return model


x, _ = data(128, 10)
data_parallel(True)
model = build(mlp)
model.fit(x, x[:, :3], batch_size=32, epochs=1000, verbose=0, callbacks=[Fail()])
print("unreachable: fit returned", flush=True)
