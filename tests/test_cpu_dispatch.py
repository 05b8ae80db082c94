"""A portable build (the wheel: EMBER_NATIVE=OFF) compiles its hot CPU loops for baseline
x86-64, AVX2 and AVX-512 and picks one at run time (cpp/src/cpu/isa.h). Every path must
compute the same bits: the same training, run once per path in a fresh process
(EMBER_CPU_ISA caps the choice), gives identical weights, losses and predictions."""

import os
import shutil
import subprocess
import sys

import ember
import numpy as np
import pytest

ISA = ember._core.cpu_instruction_set()

pytestmark = pytest.mark.skipif(
    ISA == "native", reason="a build tuned for its machine (-march=native) has one code path")

# Layers whose kernels run through the dispatched loops: Dense epilogues (relu, gelu, tanh,
# softmax) wide enough to split across threads, LSTM gates (exp in vector form), layer
# normalization, element-wise math of a custom op, Adam's update and the loss.
SCRIPT = """
import sys
import ember
import numpy as np

seed, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(seed)
ember.utils.set_random_seed(seed)
x = rng.normal(size=(512, 6, 5)).astype("float32")
y = np.eye(4, dtype="float32")[rng.integers(0, 4, 512)]
inputs = ember.Input((6, 5))
h = ember.layers.LSTM(24)(inputs)
h = ember.layers.Dense(256, activation="relu")(h)
h = ember.layers.LayerNormalization()(h)
h = ember.layers.Dense(128, activation="gelu")(h)
h = ember.layers.Dense(64, activation="tanh")(h)
h = ember.layers.Lambda(lambda t: ember.ops.sqrt(ember.ops.square(t) + 1.0) - t * 0.5)(h)
outputs = ember.layers.Dense(4, activation="softmax")(h)
model = ember.Model(inputs, outputs)
model.compile(optimizer=ember.optimizers.Adam(1e-3), loss="categorical_crossentropy")
history = model.fit(x, y, batch_size=256, epochs=3, verbose=0, shuffle=False)
np.savez(out, loss=np.array(history.history["loss"]), pred=model.predict(x, verbose=0),
         *model.get_weights())
print(ember._core.cpu_instruction_set())
"""


def run_on(path, tmp_path, seed):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = tmp_path / f"{path}.npz"
    env = {**os.environ, "EMBER_CPU_ISA": path}
    done = subprocess.run([sys.executable, str(script), str(seed), str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()[-1], np.load(out)


def test_every_instruction_set_path_computes_the_same_bits(tmp_path, rng):
    seed = int(rng.integers(2**31))
    ran, results = {}, {}
    for path in ("baseline", "avx2", "avx512"):
        ran[path], results[path] = run_on(path, tmp_path, seed)
    # A cap, never a raise: each path is what was asked for, or the best the CPU has.
    order = ["baseline", "avx2", "avx512"]
    assert ran["baseline"] == "baseline" and ran["avx512"] == ISA
    assert order.index(ran["avx2"]) == min(1, order.index(ISA))
    reference = results["baseline"]
    assert np.all(np.isfinite(reference["pred"])) and reference["loss"][-1] < reference["loss"][0]
    for path in ("avx2", "avx512"):
        for key in reference.files:
            np.testing.assert_array_equal(results[path][key], reference[key],
                                          err_msg=f"{key} on {ran[path]} differs from baseline")


def test_the_choice_is_reported():
    assert ISA in ("baseline", "avx2", "avx512")


# Run under QEMU as an x86-64 CPU without AVX (Nehalem: SSE4.2, what NumPy itself needs), a
# portable build must take its baseline path and train; a -march=native build dies of SIGILL.
# As Haswell (AVX2, no AVX-512) it takes the AVX2 path.
OLD_CPU_SCRIPT = """
import numpy as np
import ember
rng = np.random.default_rng(int(__import__("sys").argv[1]))
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, :1] * x[:, 1:2] + np.tanh(x[:, 2:3])).astype("float32")
model = ember.Sequential([ember.Input((8,)), ember.layers.Dense(64, activation="relu"),
                          ember.layers.Dense(64, activation="tanh"), ember.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
loss = model.fit(x, y, batch_size=32, epochs=5, verbose=0).history["loss"]
print(ember._core.cpu_instruction_set(), loss[-1] < loss[0])
"""


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64",
                    reason="emulates x86-64 CPUs on Linux")
@pytest.mark.parametrize("cpu, path", [("Nehalem", "baseline"), ("Haswell", "avx2")])
def test_a_portable_build_runs_on_an_older_cpu(tmp_path, rng, cpu, path):
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.skip("qemu-x86_64 not installed (Debian's qemu-user; .ci/install-system-deps)")
    script = tmp_path / "old_cpu.py"
    script.write_text(OLD_CPU_SCRIPT)
    done = subprocess.run([qemu, "-cpu", cpu, sys.executable, str(script),
                           str(int(rng.integers(2**31)))],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.split() == [path, "True"]
