#!/usr/bin/env python
"""One-row predict from C++ on a model file Python saved (issue 12: goal <= 2 us).

Builds the tutorial MLP 8 -> Dense(50, relu) -> Dense(50, relu) -> Dense(1) in ember with
random weights, saves it as `.keras`, and runs the C++ program `ember_bench_predict`
(benchmarks/cpp/bench_predict_one_row.cpp, built by CMake with the tests) on it: it loads
the file with `ember::load_model`, predicts one row, and times loops of predict() calls.
Beside it, in the same run: ember's Python `predict_on_batch(x1)` and PyTorch's
`model(torch.from_numpy(x1))` under no_grad (when installed), on the same weights.
It also checks that C++'s output equals Python's `predict` bit for bit.

    python benchmarks/bench_cpp_predict.py --build build/cpp     # the CMake build folder
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import ember


def python_latency(fn, x, calls, rounds):
    fn(x)
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(x)
        out.append((time.perf_counter() - t0) / calls * 1e9)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/cpp", help="CMake build folder with ember_bench_predict")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    exe = os.path.join(args.build, "ember_bench_predict")
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: build with cmake -DEMBER_BUILD_TESTS=ON (and the loader's libraries)")

    rng = np.random.default_rng(0)
    model = ember.Sequential([ember.Input((8,)), ember.layers.Dense(50, activation="relu"),
                              ember.layers.Dense(50, activation="relu"), ember.layers.Dense(1)])
    model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32")
                       for w in model.get_weights()])
    x1 = rng.normal(size=(1, 8)).astype("float32")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mlp.keras")
        model.save(path)
        x1.tofile(os.path.join(tmp, "row.f32"))
        run = subprocess.run([exe, path, os.path.join(tmp, "row.f32"), os.path.join(tmp, "y.f32"),
                              "200000", str(args.rounds)], capture_output=True, text=True, check=True)
        cpp = json.loads(run.stdout)["ns_per_call"]
        y_cpp = np.fromfile(os.path.join(tmp, "y.f32"), dtype=np.float32)
    y_py = model.predict(x1, verbose=0).ravel()
    rows = [("C++ `LoadedModel::predict(x, 1)`", cpp),
            ("ember Python `predict_on_batch(x1)`",
             python_latency(model.predict_on_batch, x1, 20000, args.rounds))]
    try:
        import torch

        torch.set_num_threads(1)
        net = torch.nn.Sequential(torch.nn.Linear(8, 50), torch.nn.ReLU(), torch.nn.Linear(50, 50),
                                  torch.nn.ReLU(), torch.nn.Linear(50, 1))
        ws = model.get_weights()
        with torch.no_grad():
            for lin, (k, b) in zip([net[0], net[2], net[4]], zip(ws[::2], ws[1::2])):
                lin.weight.copy_(torch.from_numpy(k.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))

        def torch_call(x):
            with torch.no_grad():
                return net(torch.from_numpy(x))

        rows.append(("PyTorch `model(torch.from_numpy(x1))` (Python)",
                     python_latency(torch_call, x1, 20000, args.rounds)))
    except ImportError:
        pass
    base = float(np.median(cpp))
    print(f"bit-equal to Python's predict: {bool(np.array_equal(y_cpp, y_py))}")
    print("| call | median ns/call | min | vs C++ |")
    print("| --- | --- | --- | --- |")
    for name, ns in rows:
        print(f"| {name} | {np.median(ns):.0f} | {min(ns):.0f} | {np.median(ns) / base:.1f}x |")


if __name__ == "__main__":
    main()
