#!/usr/bin/env python
"""Convolution and LSTM training: ember vs Keras 3 (jax backend) vs PyTorch, on the CPU.

Two workloads (--workloads convnet,lstm; default both), keras.io's examples on random data:

* convnet - "Simple MNIST convnet": 28×28×1 → Conv2D(32, 3, relu) → MaxPooling2D(2) →
  Conv2D(64, 3, relu) → MaxPooling2D(2) → Flatten → Dropout(0.5) → Dense(10, softmax);
  batch 128, Adam, categorical cross-entropy on one-hot targets, one epoch of 6,000 samples.
  The report adds the convolutions' FLOPs and their achieved rate against NumPy's SGEMM
  rate measured in the same run (on the convolutions' im2col GEMM shapes and on a large
  square GEMM).
* lstm - "IMDB LSTM" shapes: 80 int32 tokens of a 20,000-word vocabulary →
  Embedding(20000, 128) → LSTM(64) → Dense(1, sigmoid); batch 32, Adam, binary
  cross-entropy, one epoch of 2,000 samples.

Every framework gets the same data (digest in the report) and the same initial weights
(Keras's layouts, transposed for PyTorch). A round builds a fresh model, runs an untimed
warm-up fit over the same batch shapes (2 full batches and the epoch's ragged last one),
then times one epoch of `fit` (PyTorch: the equivalent loop). Frameworks run in worker
processes of their own, rounds interleaved (benchmarks/_harness.py). When ember lacks one
of the layers a workload needs, its column reads n/a and a note says why.

    python benchmarks/bench_conv_lstm.py                       # both, 5 rounds
    python benchmarks/bench_conv_lstm.py --workloads lstm --rounds 3
    python benchmarks/bench_conv_lstm.py --samples 512 --rounds 1   # smoke run

The Markdown report goes to stdout, progress to stderr.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402

SCRIPT = os.path.abspath(__file__)

WORKLOADS = {
    "convnet": {"samples": 6000, "batch": 128, "classes": 10,
                "layers": ("Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense")},
    "lstm": {"samples": 2000, "batch": 32, "tokens": 80, "vocabulary": 20000, "embedding": 128,
             "units": 64, "layers": ("Embedding", "LSTM", "Dense")},
}
TITLES = {"convnet": "keras.io's simple MNIST convnet, random images",
          "lstm": "keras.io's IMDB LSTM shapes, random tokens"}
# (kernel, input channels, output channels, input height/width) of the convolutions
CONVS = ((3, 1, 32, 28), (3, 32, 64, 13))


def workload_config(name, samples=None):
    cfg = dict(WORKLOADS[name])
    if samples:
        cfg["samples"] = samples
    return cfg


def make_data(name, cfg, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    n = cfg["samples"]
    if name == "convnet":
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, cfg["classes"], n)]
        return x, y
    x = rng.integers(1, cfg["vocabulary"], (n, cfg["tokens"])).astype(np.int32)
    y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    return x, y


def initial_weights(name, cfg, seed):
    """Glorot-uniform kernels, orthogonal-free uniform recurrent kernels, zero biases
    (LSTM: Keras's unit forget bias), in Keras's layouts and order."""
    import numpy as np

    rng = np.random.default_rng(seed + 1)

    def glorot(shape, fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)

    if name == "convnet":
        out = []
        for k, cin, cout, _ in CONVS:
            out += [glorot((k, k, cin, cout), k * k * cin, k * k * cout),
                    np.zeros(cout, np.float32)]
        out += [glorot((1600, cfg["classes"]), 1600, cfg["classes"]),
                np.zeros(cfg["classes"], np.float32)]
        return out
    e, u = cfg["embedding"], cfg["units"]
    bias = np.zeros(4 * u, np.float32)
    bias[u:2 * u] = 1.0  # unit_forget_bias
    return [rng.uniform(-0.05, 0.05, (cfg["vocabulary"], e)).astype(np.float32),
            glorot((e, 4 * u), e, 4 * u), glorot((u, 4 * u), u, 4 * u), bias,
            glorot((u, 1), u, 1), np.zeros(1, np.float32)]


def warmup_rows(cfg):
    b, n = cfg["batch"], cfg["samples"]
    return min(n, 2 * b + n % b)


def conv_gemms(batch):
    """The convolutions' GEMMs of one training step as im2col lowers them:
    (name, m, k, n). Layer 1's input gradient is not computed by any framework."""
    out = []
    for i, (k, cin, cout, size) in enumerate(CONVS, start=1):
        rows = batch * (size - k + 1) ** 2
        out.append((f"conv{i} forward ({rows}×{k * k * cin}) @ ({k * k * cin}×{cout})",
                    rows, k * k * cin, cout))
        out.append((f"conv{i} grad W ({k * k * cin}×{rows}) @ ({rows}×{cout})",
                    k * k * cin, rows, cout))
        if i > 1:
            out.append((f"conv{i} grad X ({rows}×{cout}) @ ({cout}×{k * k * cin})",
                        rows, cout, k * k * cin))
    return out


def conv_flops_per_sample():
    return sum(2 * m * k * n for _, m, k, n in conv_gemms(1))


# ---------------------------------------------------------------------------
# workers
# ---------------------------------------------------------------------------
def _keras_like_model(K, name, cfg, weights):
    """The model in Keras's API; K is the `ember` or the `keras` module."""
    L = K.layers
    if name == "convnet":
        layers = [L.Input(shape=(28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                  L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
                  L.Flatten(), L.Dropout(0.5), L.Dense(cfg["classes"], activation="softmax")]
        loss = "categorical_crossentropy"
    else:
        layers = [L.Input(shape=(cfg["tokens"],), dtype="int32"),
                  L.Embedding(cfg["vocabulary"], cfg["embedding"]), L.LSTM(cfg["units"]),
                  L.Dense(1, activation="sigmoid")]
        loss = "binary_crossentropy"
    model = K.models.Sequential(layers)
    model.compile(optimizer=K.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7), loss=loss)
    model.set_weights(weights)
    return model


def _keras_like_runner(K, name, cfg, x, y, xw, yw):
    def run(weights):
        model = _keras_like_model(K, name, cfg, weights)
        t0 = time.perf_counter()
        model.fit(xw, yw, batch_size=cfg["batch"], epochs=1, shuffle=True, verbose=0)
        window = H.CpuWindow()
        t1 = time.perf_counter()
        history = model.fit(x, y, batch_size=cfg["batch"], epochs=1, shuffle=True, verbose=0)
        t2 = time.perf_counter()
        return {"fit_s": t2 - t1, "warmup_s": t1 - t0, "others": window.stop(),
                "final_loss": float(history.history["loss"][-1])}
    return run


def _torch_model(name, cfg, weights):
    import torch
    from torch import nn

    def load(param, array):
        with torch.no_grad():
            param.copy_(torch.from_numpy(array))

    if name == "convnet":
        class ConvNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
                self.dropout, self.dense = nn.Dropout(0.5), nn.Linear(1600, cfg["classes"])

            def forward(self, x):  # x: (batch, 1, 28, 28)
                x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
                x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
                x = x.permute(0, 2, 3, 1).flatten(1)  # Keras's channels-last flattening order
                return self.dense(self.dropout(x))  # logits: CrossEntropyLoss adds softmax

        model = ConvNet()
        for conv, kernel, bias in ((model.conv1, *weights[0:2]), (model.conv2, *weights[2:4])):
            load(conv.weight, kernel.transpose(3, 2, 0, 1).copy())
            load(conv.bias, bias)
        load(model.dense.weight, weights[4].T.copy())
        load(model.dense.bias, weights[5])
        return model

    class Imdb(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(cfg["vocabulary"], cfg["embedding"])
            self.lstm = nn.LSTM(cfg["embedding"], cfg["units"], batch_first=True)
            self.dense = nn.Linear(cfg["units"], 1)

        def forward(self, x):  # x: (batch, tokens) int64
            _, (h, _) = self.lstm(self.embedding(x))
            return self.dense(h[-1])  # a logit: BCEWithLogitsLoss adds the sigmoid

    model = Imdb()
    # Keras and PyTorch both order the LSTM gates i, f, c(g), o.
    load(model.embedding.weight, weights[0])
    load(model.lstm.weight_ih_l0, weights[1].T.copy())
    load(model.lstm.weight_hh_l0, weights[2].T.copy())
    load(model.lstm.bias_ih_l0, weights[3])
    load(model.lstm.bias_hh_l0, weights[3] * 0)
    load(model.dense.weight, weights[4].T.copy())
    load(model.dense.bias, weights[5])
    return model


def _torch_runner(name, cfg, x, y, xw, yw, seed, threads):
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    def tensors(xa, ya):
        if name == "convnet":
            return (torch.from_numpy(np.ascontiguousarray(xa.transpose(0, 3, 1, 2))),
                    torch.from_numpy(ya.argmax(axis=1)))
        return torch.from_numpy(xa.astype(np.int64)), torch.from_numpy(ya)

    X, Y = tensors(x, y)
    XW, YW = tensors(xw, yw)

    def fit(model, opt, loss_fn, X, Y):
        n, b = X.shape[0], cfg["batch"]
        model.train()
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros(())
        for start in range(0, n, b):
            idx = perm[start:start + b]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            total += loss.detach() * idx.numel()
        return total.item() / n

    def run(weights):
        model = _torch_model(name, cfg, weights)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
        loss_fn = nn.CrossEntropyLoss() if name == "convnet" else nn.BCEWithLogitsLoss()
        t0 = time.perf_counter()
        fit(model, opt, loss_fn, XW, YW)
        window = H.CpuWindow()
        t1 = time.perf_counter()
        final = fit(model, opt, loss_fn, X, Y)
        t2 = time.perf_counter()
        return {"fit_s": t2 - t1, "warmup_s": t1 - t0, "others": window.stop(),
                "final_loss": final}
    return run


def _numpy_gemm_runner(cfg):
    """NumPy's float32 matmul rate (its own OpenBLAS, all threads) on the convolutions'
    im2col GEMMs of one step, and on a large square GEMM (the machine's SGEMM rate)."""
    import functools

    import numpy as np

    rng = np.random.default_rng(0)
    cases = []
    shapes = conv_gemms(cfg["batch"]) + [("square 2048×2048 @ 2048×2048", 2048, 2048, 2048)]
    for name, m, k, n in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        fn = functools.partial(np.matmul, a, b, out=c)
        fn()
        cases.append((name, 2 * m * k * n, fn, H.autorange(fn, 0.1)))

    def run(_weights):
        window = H.CpuWindow()
        out = {"flops": {name: flops for name, flops, _, _ in cases},
               "seconds": {name: H.time_calls(fn, number) for name, _, fn, number in cases}}
        out["others"] = window.stop()
        return out
    return run


def worker_main(args):
    import numpy as np

    def setup():
        name = args.workload
        cfg = workload_config(name, args.samples)
        if args.worker == "numpy":
            return {"blas": H.blas_info()}, lambda cmd: _numpy_run(cmd)
        x, y = make_data(name, cfg, args.seed)
        xw, yw = x[:warmup_rows(cfg)], y[:warmup_rows(cfg)]
        if args.worker == "ember":
            import ember
            missing = [layer for layer in cfg["layers"] if not hasattr(ember.layers, layer)]
            if missing:
                raise RuntimeError(f"ember.layers has no {', '.join(missing)} yet: "
                                   f"ember's side of '{name}' is skipped")
            ember.utils.set_random_seed(args.seed)
            run = _keras_like_runner(ember, name, cfg, x, y, xw, yw)
        elif args.worker == "keras":
            import keras
            assert keras.backend.backend() == "jax", keras.backend.backend()
            keras.utils.set_random_seed(args.seed)
            run = _keras_like_runner(keras, name, cfg, x, y, xw, yw)
        elif args.worker == "torch":
            run = _torch_runner(name, cfg, x, y, xw, yw, args.seed, args.threads)
        else:
            raise ValueError(f"unknown worker {args.worker}")
        weights = initial_weights(name, cfg, args.seed)
        info = {"digest": H.digest(x, y), "pid": os.getpid()}
        if args.worker == "ember":
            info["blas"] = H.blas_info("scipy_openblas32")
        return info, lambda cmd: run(weights)

    _numpy_state = {}

    def _numpy_run(cmd):
        if "run" not in _numpy_state:  # measured lazily: the worker starts fast
            _numpy_state["run"] = _numpy_gemm_runner(workload_config(args.workload, args.samples))
        return _numpy_state["run"](None)

    np.random.seed(args.seed)
    H.serve(setup)


# ---------------------------------------------------------------------------
# the parent: run, then report
# ---------------------------------------------------------------------------
def run_workload(name, args):
    cfg = workload_config(name, args.samples)
    notes = []
    names = [f for f in H.FRAMEWORKS if f in args.frameworks]
    if name == "convnet" and not args.no_gemm:
        names.append("numpy")
    wargs = ["--workloads", name, "--seed", str(args.seed), "--threads", str(args.threads)]
    if args.samples:
        wargs += ["--samples", str(args.samples)]
    return H.run_interleaved_workload(SCRIPT, name, cfg, names, wargs, args.rounds, args, notes)


def _describe(name, cfg):
    if name == "convnet":
        return (f"{cfg['samples']:,}×28×28×1 float32 → Conv2D(32, 3, relu) → MaxPooling2D(2) → "
                f"Conv2D(64, 3, relu) → MaxPooling2D(2) → Flatten → Dropout(0.5) → "
                f"Dense(10, softmax); batch {cfg['batch']}, Adam, categorical cross-entropy")
    return (f"{cfg['samples']:,}×{cfg['tokens']} int32 tokens → Embedding({cfg['vocabulary']}, "
            f"{cfg['embedding']}) → LSTM({cfg['units']}) → Dense(1, sigmoid); batch "
            f"{cfg['batch']}, Adam, binary cross-entropy")


def report_workload(res, args):
    name, cfg, results = res["workload"], res["config"], res["results"]
    steps = -(-cfg["samples"] // cfg["batch"])
    fit = {f: H.median([r["fit_s"] for r in results.get(f, [])]) for f in H.FRAMEWORKS}
    out = [f"### Training, {name} — {TITLES[name]}", "",
           f"{_describe(name, cfg)}; one epoch = {steps} steps; time of the whole `fit` call "
           f"after a warm-up fit over the same batch shapes, median of {args.rounds} "
           f"(data digest {res['digest']}).", ""]
    rows = []
    for f in H.FRAMEWORKS:
        if f not in args.frameworks:
            continue
        runs = results.get(f, [])
        t = fit[f]
        fits = [r["fit_s"] for r in runs]
        others = [r["others"] for r in runs if r.get("others") is not None]
        rows.append([H.LABELS[f], H.fmt_time(t), H.fmt_time(min(fits) if fits else None),
                     H.fmt_pct(H.spread(fits)), H.fmt_pct(H.median(others)),
                     H.fmt_us(t / steps) if t else "n/a",
                     H.fmt_time(H.median([r["warmup_s"] for r in runs])),
                     f"{H.median([r['final_loss'] for r in runs]):.4g}" if runs else "n/a",
                     "—" if f == "ember" else H.fmt_ratio(H.speedup(t, fit["ember"]))])
    out.append(H.md_table(["framework", "fit time (median)", "best", "spread", "others' CPU",
                           "per step (median)", "warm-up fit", "final loss",
                           "ember speed-up"], rows))
    peer, peer_t = H.faster_peer(fit)
    if peer and fit["ember"]:
        out += ["", f"ember vs the faster peer ({H.LABELS[peer]}): "
                f"**{H.fmt_ratio(H.speedup(peer_t, fit['ember']))}**"]
    if results.get("numpy"):
        out += ["", *report_conv_rate(cfg, results["numpy"], fit)]
    if res.get("blas"):
        out += ["", "BLAS in use: " + "; ".join(
            f"{H.LABELS[n]}: {b}" for n, b in res["blas"].items()) + "."]
    run_others = {H.LABELS[f]: [r.get("others") for r in runs] for f, runs in results.items()}
    out += ["", "Machine load during this workload: "
            f"{H.contention_note(res['contention'], run_others, args.max_others)}."]
    out += [f"\n> note: {n}" for n in res["notes"]]
    return "\n".join(out), fit


def report_conv_rate(cfg, runs, fit):
    """The convolutions' FLOPs per epoch over each framework's whole fit time (a lower
    bound on their rate: the fit also pools, applies the dense layer and updates),
    against NumPy's SGEMM rate on the im2col shapes and on a large square GEMM."""
    flops = runs[0]["flops"]
    med = {n: H.median([r["seconds"][n] for r in runs]) for n in flops}
    square = next(n for n in flops if n.startswith("square"))
    peak = flops[square] / med[square]
    conv_names = [n for n in flops if n != square]
    step_flops = sum(flops[n] for n in conv_names)
    shapes_rate = step_flops / sum(med[n] for n in conv_names)
    epoch_flops = conv_flops_per_sample() * cfg["samples"]
    rows = [[f"`{n}`", f"{flops[n] / 1e6:,.0f}", H.fmt_time(med[n]),
             f"{flops[n] / med[n] / 1e9:.1f}"] for n in flops]
    out = [f"NumPy float32 matmul (its own OpenBLAS, {H.usable_cores()} threads) on the "
           f"convolutions' im2col GEMMs of one batch-{cfg['batch']} step and on a square GEMM:",
           "", H.md_table(["GEMM", "MFLOP", "time (median)", "GFLOP/s"], rows), "",
           f"The machine's SGEMM rate (square 2048³): **{peak / 1e9:.1f} GFLOP/s**; on the "
           f"convolutions' own GEMM shapes {shapes_rate / 1e9:.1f} GFLOP/s. The convolutions "
           f"take {conv_flops_per_sample() / 1e6:.2f} MFLOP per sample to train (forward, "
           f"weight gradients, layer 2's input gradient): {epoch_flops / 1e9:.1f} GFLOP per "
           f"epoch.", ""]
    rows = []
    for f in H.FRAMEWORKS:
        if fit.get(f):
            achieved = epoch_flops / fit[f]
            rows.append([H.LABELS[f], f"{achieved / 1e9:.1f}", H.fmt_pct(achieved / peak),
                         H.fmt_pct(achieved / shapes_rate)])
    out.append(H.md_table(["framework", "convolution GFLOP/s (conv FLOPs / whole fit time)",
                           "of the SGEMM rate", "of the rate on the im2col shapes"], rows))
    return out


def summary_table(fits_by_workload):
    rows = []
    for name, fit in fits_by_workload.items():
        _, peer_t = H.faster_peer(fit)
        rows.append([name] + [H.fmt_time(fit.get(f)) for f in H.FRAMEWORKS]
                    + [H.fmt_ratio(H.speedup(fit.get(p), fit.get("ember"))) for p in H.PEERS]
                    + [H.fmt_ratio(H.speedup(peer_t, fit.get("ember")))])
    headers = ["workload"] + [H.LABELS[f] for f in H.FRAMEWORKS] \
        + [f"ember vs {H.LABELS[p]}" for p in H.PEERS] + ["ember vs faster peer"]
    return H.md_table(headers, rows)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="convnet,lstm",
                   help="comma-separated subset of convnet,lstm")
    p.add_argument("--rounds", type=int, default=5, help="timed runs per framework (default 5)")
    p.add_argument("--samples", type=int, default=None,
                   help="samples per workload (default: convnet 6000, lstm 2000)")
    p.add_argument("--frameworks", default=",".join(H.FRAMEWORKS),
                   help="comma-separated subset of ember,keras,torch")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=H.usable_cores(),
                   help="PyTorch intra-op threads (default: all usable cores)")
    p.add_argument("--no-gemm", action="store_true", help="skip the NumPy SGEMM reference")
    p.add_argument("--json", metavar="PATH", help="also write the raw measurements here")
    p.add_argument("--no-env", action="store_true", help="omit the environment lines")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    H.add_machine_arguments(p, unit="run", settle=0.5, repeats_flag="--rounds")
    args = p.parse_args(argv)
    args.quick = False
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.samples is not None and args.samples < 1:
        p.error("--samples must be positive")
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if not args.workloads or set(args.workloads) - set(WORKLOADS):
        p.error(f"--workloads: a subset of {','.join(WORKLOADS)} (got {args.workloads})")
    args.workload = args.workloads[0]  # a worker runs one
    args.frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    if set(args.frameworks) - set(H.FRAMEWORKS):
        p.error(f"--frameworks: a subset of {','.join(H.FRAMEWORKS)}")
    return H.finish_machine_arguments(p, args, args.rounds)


def main(argv=None):
    args = parse_args(argv)
    sections, fits, raw = [], {}, []
    for name in args.workloads:
        res = run_workload(name, args)
        text, fits[name] = report_workload(res, args)
        sections.append(text)
        raw.append(res)
        H.progress(f"workload {name} took {res['wall_s']:.0f} s")
    parts = []
    if not args.no_env:
        parts += ["## ember convolution and LSTM training benchmark", "",
                  H.environment_markdown(), ""]
    parts += [summary_table(fits), "", "Ratios are ember's speed-up (peer time / ember time; "
              "above 1 means ember is faster).", "", "\n\n".join(sections)]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)
    return "\n".join(parts)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker_main(parse_args(sys.argv[1:]))
    else:
        H.exit_on_sigterm()
        t_start = time.perf_counter()
        print(main())
        print(f"\n_total wall time {time.perf_counter() - t_start:.0f} s_")
