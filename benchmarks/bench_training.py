#!/usr/bin/env python
"""Training throughput: ember vs Keras 3 (jax backend) vs PyTorch, on the CPU.

Three workloads (--workload tiny|wide|mnist|all, default all):

* tiny - a "concrete-style" regression MLP: 1030 x 8 -> Dense(5, relu) ->
  Dense(5, relu) -> Dense(1); batch 32, Adam, mean squared error, 100 epochs,
  shuffle=True, verbose=0. Dominated by per-step overhead (33 steps an epoch).
* wide - an MNIST-sized classifier on random data: 60000 x 784 ->
  Dense(1024, relu) -> Dense(1024, relu) -> Dense(10, softmax); batch 256,
  Adam, categorical cross-entropy on one-hot targets, 1 epoch. Dominated by
  SGEMM; the report adds FLOP counts and NumPy's float32 matmul rate on the
  very GEMM shapes a training step runs.
* mnist - keras.io's MNIST MLP at small scale, on synthetic MNIST-like data:
  60000 x 784 pixel-like inputs in [0, 1] (a class template plus noise,
  quantised to 1/255) -> Dense(64, relu) -> Dense(32, relu) ->
  Dense(10, softmax); batch 32, Adam, sparse categorical cross-entropy on
  integer labels, 2 epochs (3,750 steps). Small GEMMs and many steps: per-step
  overhead and SGEMM at batch 32 both matter; the report adds the same FLOP
  account and NumPy SGEMM reference as for "wide".

Every repeat builds a fresh model with the same initial weights (Glorot-uniform
from a fixed seed, copied into every framework), runs one untimed warm-up fit
of 1 epoch on it (to pay tracing/JIT/allocation; for "wide" and "mnist" on a
slice with the same batch shapes, 2 full batches plus the epoch's ragged last
one) and then times the whole `fit` call (PyTorch: the equivalent manual
loop). Data are generated from a fixed seed and are bit-identical in every
framework (the digest in the report shows it).

    python benchmarks/bench_training.py                 # all workloads, 5 repeats
    python benchmarks/bench_training.py --workload tiny --repeats 9
    python benchmarks/bench_training.py --quick         # smoke run, well under a minute

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

# ---------------------------------------------------------------------------
# workloads
# ---------------------------------------------------------------------------
# "sgemm": the report adds a FLOP account and NumPy's SGEMM rate on the step's GEMMs.
WORKLOADS = {
    "tiny": {"rows": 1030, "features": 8, "hidden": (5, 5), "outputs": 1,
             "out_activation": None, "loss": "mean_squared_error", "batch": 32, "epochs": 100,
             "warmup": "full", "sgemm": False},
    "wide": {"rows": 60000, "features": 784, "hidden": (1024, 1024), "outputs": 10,
             "out_activation": "softmax", "loss": "categorical_crossentropy", "batch": 256,
             "epochs": 1, "warmup": "batch-shapes", "sgemm": True},
    "mnist": {"rows": 60000, "features": 784, "hidden": (64, 32), "outputs": 10,
              "out_activation": "softmax", "loss": "sparse_categorical_crossentropy",
              "batch": 32, "epochs": 2, "warmup": "batch-shapes", "sgemm": True},
}
QUICK = {"tiny": {"epochs": 10}, "wide": {"rows": 4096 + 96},
         "mnist": {"rows": 6400 + 16, "epochs": 1}}
TITLES = {"tiny": "tiny — concrete-style regression MLP",
          "wide": "wide — MNIST-sized classifier, random data",
          "mnist": "mnist — keras.io's MNIST MLP, synthetic MNIST-like data"}


def workload_config(name, quick):
    cfg = dict(WORKLOADS[name])
    if quick:
        cfg.update(QUICK[name])
    return cfg


def steps_per_epoch(cfg):
    return -(-cfg["rows"] // cfg["batch"])


def make_data(name, cfg, seed):
    """Inputs (float32) and targets (float32, or int64 class indices for a sparse
    loss), identical in every process for a given seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n, f = cfg["rows"], cfg["features"]
    if name == "tiny":
        # Standardised features and a smooth non-linear target on the scale of
        # concrete compressive strength (mean ~36 MPa, sd ~16).
        x = rng.standard_normal((n, f), dtype=np.float32)
        w = rng.standard_normal(f).astype(np.float32)
        y = 36.0 + 16.0 * np.tanh(x @ w / 3.0) + 2.0 * x[:, 0] * x[:, 1] \
            + rng.normal(0.0, 2.0, n)
        return x, y.astype(np.float32).reshape(n, 1)
    if name == "mnist":
        # MNIST-like: a fixed random template per class plus as much uniform noise,
        # quantised to 1/255 as 8-bit pixels scaled to [0, 1]; learnable, so the
        # final loss shows that every framework trained. Integer labels, as
        # sparse_categorical_crossentropy (and PyTorch's CrossEntropyLoss) take them.
        labels = rng.integers(0, cfg["outputs"], n)
        templates = rng.random((cfg["outputs"], f), dtype=np.float32)
        x = rng.random((n, f), dtype=np.float32)
        x += templates[labels]
        x *= 255.0 / 2.0
        np.round(x, out=x)
        x /= 255.0
        return x, labels.astype(np.int64)
    x = rng.random((n, f), dtype=np.float32)  # pixel-like values in [0, 1)
    labels = rng.integers(0, cfg["outputs"], n)
    return x, np.eye(cfg["outputs"], dtype=np.float32)[labels]


def initial_weights(cfg, seed):
    """Glorot-uniform kernels and zero biases, [(kernel (in, out), bias), ...]."""
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    sizes = (cfg["features"],) + tuple(cfg["hidden"]) + (cfg["outputs"],)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        out.append((rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                    np.zeros(fan_out, np.float32)))
    return out


def warmup_rows(cfg):
    if cfg["warmup"] == "full":
        return cfg["rows"]
    b = cfg["batch"]
    return min(cfg["rows"], 2 * b + cfg["rows"] % b)


def step_gemms(cfg, batch=None):
    """The GEMMs of one training step: (name, m, k, n, transpose_a, transpose_b)."""
    b = batch or cfg["batch"]
    sizes = (cfg["features"],) + tuple(cfg["hidden"]) + (cfg["outputs"],)
    fwd, dw, dx = [], [], []
    for i, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        fwd.append((f"forward  L{i}: ({b}×{fi}) @ ({fi}×{fo})", b, fi, fo, False, False))
        dw.append((f"grad W   L{i}: ({fi}×{b}) @ ({b}×{fo})  [Xᵀ·dY]", fi, b, fo, True, False))
        if i > 1:  # no framework computes the gradient w.r.t. the data
            dx.append((f"grad X   L{i}: ({b}×{fo}) @ ({fo}×{fi})  [dY·Wᵀ]", b, fo, fi,
                       False, True))
    return fwd + dw + dx


def flops_per_sample(cfg):
    """Training FLOPs per sample: forward 2·Σ in·out, backward 2× that minus layer 1's dX."""
    sizes = (cfg["features"],) + tuple(cfg["hidden"]) + (cfg["outputs"],)
    fwd = 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 3 * fwd - 2 * sizes[0] * sizes[1]


# ---------------------------------------------------------------------------
# workers: one per framework
# ---------------------------------------------------------------------------
def _keras_like_model(K, cfg, weights):
    """The model in Keras's API; K is the `ember` or the `keras` module."""
    layers = [K.layers.Input(shape=(cfg["features"],))]
    layers += [K.layers.Dense(h, activation="relu") for h in cfg["hidden"]]
    layers.append(K.layers.Dense(cfg["outputs"], activation=cfg["out_activation"]))
    model = K.models.Sequential(layers)
    model.compile(optimizer=K.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7),
                  loss=cfg["loss"])
    model.set_weights([a for pair in weights for a in pair])
    return model


def _keras_like_runner(K, cfg, x, y, xw, yw):
    def run(weights):
        model = _keras_like_model(K, cfg, weights)
        t0 = time.perf_counter()
        model.fit(xw, yw, batch_size=cfg["batch"], epochs=1, shuffle=True, verbose=0)
        window = H.CpuWindow()
        t1 = time.perf_counter()
        history = model.fit(x, y, batch_size=cfg["batch"], epochs=cfg["epochs"], shuffle=True,
                            verbose=0)
        t2 = time.perf_counter()
        return {"fit_s": t2 - t1, "warmup_s": t1 - t0, "others": window.stop(),
                "final_loss": float(history.history["loss"][-1])}
    return run


def _torch_runner(cfg, x, y, xw, yw, seed, threads):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    classify = cfg["loss"] in ("categorical_crossentropy", "sparse_categorical_crossentropy")

    def tensors(xa, ya):
        xt = torch.from_numpy(xa)
        # The natural idiom: logits + CrossEntropyLoss on class indices.
        one_hot = cfg["loss"] == "categorical_crossentropy"
        yt = torch.from_numpy(ya.argmax(axis=1) if one_hot else ya)
        return xt, yt

    X, Y = tensors(x, y)
    XW, YW = tensors(xw, yw)
    gen = torch.Generator().manual_seed(seed)

    def build(weights):
        return H.torch_mlp(weights)  # no softmax layer: CrossEntropyLoss takes logits

    def fit(model, opt, loss_fn, X, Y, epochs):
        n, b = X.shape[0], cfg["batch"]
        model.train()
        epoch_loss = None
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            total = torch.zeros(())
            for start in range(0, n, b):
                idx = perm[start:start + b]
                xb, yb = X[idx], Y[idx]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.detach() * idx.numel()
            epoch_loss = total.item() / n
        return epoch_loss

    def run(weights):
        model = build(weights)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
        loss_fn = nn.CrossEntropyLoss() if classify else nn.MSELoss()
        t0 = time.perf_counter()
        fit(model, opt, loss_fn, XW, YW, 1)
        window = H.CpuWindow()
        t1 = time.perf_counter()
        final = fit(model, opt, loss_fn, X, Y, cfg["epochs"])
        t2 = time.perf_counter()
        return {"fit_s": t2 - t1, "warmup_s": t1 - t0, "others": window.stop(),
                "final_loss": final}
    return run


def _numpy_gemm_runner(cfg, target):
    """Times np.matmul (float32, into a preallocated output) on each GEMM of a step,
    with NumPy's default BLAS threads and, when threadpoolctl is there, on 1 thread."""
    import contextlib
    import functools

    import numpy as np
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None

    rng = np.random.default_rng(0)
    cases = []
    for name, m, k, n, ta, tb in step_gemms(cfg):
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        a, b = (a.T if ta else a), (b.T if tb else b)  # transposed views, as BLAS sees them
        c = np.empty((m, n), np.float32)
        fn = functools.partial(np.matmul, a, b, out=c)
        fn()
        cases.append((name, 2 * m * k * n, fn, H.autorange(fn, target)))
    modes = {"default": contextlib.nullcontext}
    if threadpool_limits is not None:
        modes["1 thread"] = lambda: threadpool_limits(1, user_api="blas")

    def run(_weights):
        out = {"gemm_flops": {name: flops for name, flops, _, _ in cases}, "gemm_s": {}}
        window = H.CpuWindow()
        for mode, limit in modes.items():
            with limit():
                out["gemm_s"][mode] = {name: H.time_calls(fn, number)
                                       for name, _, fn, number in cases}
        out["others"] = window.stop()
        return out
    return run


def worker_main(args):
    import numpy as np

    def setup():
        cfg = workload_config(args.workload, args.quick)
        if args.worker == "numpy":
            run = _numpy_gemm_runner(cfg, 0.02 if args.quick else 0.1)
            return {"blas": H.blas_info()}, lambda cmd: run(None)
        x, y = make_data(args.workload, cfg, args.seed)
        xw, yw = x[:warmup_rows(cfg)], y[:warmup_rows(cfg)]
        if args.worker == "ember":
            import ember
            ember.utils.set_random_seed(args.seed)
            run = _keras_like_runner(ember, cfg, x, y, xw, yw)
        elif args.worker == "keras":
            import keras
            assert keras.backend.backend() == "jax", keras.backend.backend()
            keras.utils.set_random_seed(args.seed)
            run = _keras_like_runner(keras, cfg, x, y, xw, yw)
        elif args.worker == "torch":
            run = _torch_runner(cfg, x, y, xw, yw, args.seed, args.threads)
        else:
            raise ValueError(f"unknown worker {args.worker}")
        weights = initial_weights(cfg, args.seed)
        info = {"digest": H.digest(x, y), "pid": os.getpid()}
        if args.worker == "ember":
            info["blas"] = H.blas_info("scipy_openblas32")
            info["ember_file"] = ember.__file__  # which build ran (benchmarks/ab.py checks it)
        elif args.worker == "torch":
            import torch
            info["blas"] = (f"{'MKL' if torch.backends.mkl.is_available() else 'its BLAS'} "
                            f"(linked in; CPU capability {torch.backends.cpu.get_cpu_capability()},"
                            f" {torch.get_num_threads()} threads)")
        elif args.worker == "keras":
            import jax
            info["blas"] = f"XLA's own CPU GEMM kernels (jax {jax.__version__})"
        return info, lambda cmd: run(weights)

    np.random.seed(args.seed)
    H.serve(setup)


# ---------------------------------------------------------------------------
# the parent: run, then report
# ---------------------------------------------------------------------------
def run_workload(name, args):
    cfg = workload_config(name, args.quick)
    notes = []
    names = [f for f in H.FRAMEWORKS if f in args.frameworks]
    if cfg["sgemm"] and not args.no_gemm:
        names.append("numpy")
    wargs = ["--workload", name, "--seed", str(args.seed), "--threads", str(args.threads)]
    if args.quick:
        wargs.append("--quick")
    return H.run_interleaved_workload(SCRIPT, name, cfg, names, wargs, args.repeats, args, notes)


def report_workload(res, args):
    name, cfg, results = res["workload"], res["config"], res["results"]
    steps = steps_per_epoch(cfg)
    total_steps = steps * cfg["epochs"]
    fit = {f: H.median([r["fit_s"] for r in results.get(f, [])]) for f in H.FRAMEWORKS}
    sizes = " → ".join([str(cfg["features"])] + [str(h) for h in cfg["hidden"]]
                       + [str(cfg["outputs"])])
    out = [f"### Training, {TITLES[name]}", ""]
    out.append(
        f"{cfg['rows']}×{cfg['features']} float32, MLP {sizes} "
        f"(relu{', softmax' if cfg['out_activation'] else ''}), batch {cfg['batch']}, Adam, "
        f"{cfg['loss']}, {cfg['epochs']} epoch{'s' if cfg['epochs'] > 1 else ''} = "
        f"{total_steps:,} steps; time of the whole `fit` call after a 1-epoch warm-up fit, "
        f"median of {args.repeats} (data digest {res['digest']}).")
    out.append("")
    rows = []
    epoch_flops = flops_per_sample(cfg) * cfg["rows"] * cfg["epochs"]
    for f in H.FRAMEWORKS:
        if f not in args.frameworks:
            continue
        runs = results.get(f, [])
        t = fit[f]
        fits = [r["fit_s"] for r in runs]
        others = [r["others"] for r in runs if r.get("others") is not None]
        row = [H.LABELS[f], H.fmt_time(t), H.fmt_time(min(fits) if fits else None),
               H.fmt_pct(H.spread(fits)), H.fmt_pct(H.median(others)),
               H.fmt_us(t / total_steps) if t else "n/a"]
        row += [H.fmt_time(H.median([r["warmup_s"] for r in runs])),
                f"{H.median([r['final_loss'] for r in runs]):.4g}" if runs else "n/a",
                "—" if f == "ember" else H.fmt_ratio(H.speedup(t, fit["ember"]))]
        rows.append(row)
    headers = ["framework", "fit time (median)", "best", "spread", "others' CPU",
               "per step (median)"]
    headers += ["warm-up fit (1 epoch)", "final loss", "ember speed-up"]
    out.append(H.md_table(headers, rows))
    peer, peer_t = H.faster_peer(fit)
    out.append("")
    if peer and fit["ember"]:
        out.append(f"ember vs the faster peer ({H.LABELS[peer]}): "
                   f"**{H.fmt_ratio(H.speedup(peer_t, fit['ember']))}**")
    if cfg["sgemm"] and "numpy" in results and results["numpy"]:
        best_fit = {f: min((r["fit_s"] for r in results.get(f, [])), default=None)
                    for f in H.FRAMEWORKS}
        out += ["", *report_gemm(cfg, results["numpy"], fit, best_fit, epoch_flops)]
    if res.get("blas"):
        out += ["", "BLAS in use: " + "; ".join(
            f"{H.LABELS[n]}: {b}" for n, b in res["blas"].items()) + "."]
    run_others = {H.LABELS[f]: [r.get("others") for r in runs] for f, runs in results.items()}
    out += ["", "Machine load during this workload: "
            f"{H.contention_note(res['contention'], run_others, args.max_others)}."]
    out += [f"\n> note: {n}" for n in res["notes"]]
    return "\n".join(out), fit


def sgemm_rate(runs):
    """NumPy's SGEMM rate on a step's GEMMs from the numpy worker's replies: the
    median time of each GEMM per thread mode, and the better mode's whole-step
    rate. Returns (best FLOP/s, best mode, {mode: FLOP/s}, {mode: {GEMM: s}}, step FLOPs)."""
    gemm_flops = runs[0]["gemm_flops"]
    modes = list(runs[0]["gemm_s"])
    med = {mode: {n: H.median([r["gemm_s"][mode][n] for r in runs]) for n in gemm_flops}
           for mode in modes}
    step_flops = sum(gemm_flops.values())
    rate = {mode: step_flops / sum(med[mode].values()) for mode in modes}
    best_mode = max(modes, key=lambda m: rate[m])
    return rate[best_mode], best_mode, rate, med, step_flops


def report_gemm(cfg, runs, fit, best_fit, epoch_flops):
    gemm_flops = runs[0]["gemm_flops"]
    names = list(gemm_flops)
    modes = list(runs[0]["gemm_s"])
    best, best_mode, rate, med, step_flops = sgemm_rate(runs)
    step_s = {mode: step_flops / rate[mode] for mode in modes}
    label = {"default": f"{H.usable_cores()} threads (default)", "1 thread": "1 thread"}
    out = [f"NumPy float32 matmul (NumPy's own OpenBLAS, into a preallocated output) on the "
           f"GEMMs of one batch-{cfg['batch']} training step, median time and GFLOP/s:", ""]
    rows = [[f"`{n}`", f"{gemm_flops[n] / 1e6:,.0f}"]
            + [f"{H.fmt_time(med[m][n])} ({gemm_flops[n] / med[m][n] / 1e9:.1f})" for m in modes]
            for n in names]
    rows.append(["**whole step**", f"**{step_flops / 1e6:,.0f}**"]
                + [f"**{H.fmt_time(step_s[m])} ({rate[m] / 1e9:.1f})**" for m in modes])
    out.append(H.md_table(["GEMM", "MFLOP"] + [f"NumPy, {label[m]}" for m in modes], rows))
    fwd = 2 * cfg["batch"] * sum(
        a * b for a, b in zip((cfg["features"],) + tuple(cfg["hidden"]),
                              tuple(cfg["hidden"]) + (cfg["outputs"],)))
    out += ["", f"FLOPs per step (batch {cfg['batch']}): forward {fwd / 1e9:.3f} G, "
            f"forward + backward {step_flops / 1e9:.3f} G "
            f"(backward = 2× forward − layer 1's dX GEMM); per epoch "
            f"({cfg['rows'] * cfg['epochs']:,} samples) {epoch_flops / 1e9:.1f} GFLOP. "
            f"NumPy's SGEMM rate on these shapes (best of the columns above, "
            f"{label[best_mode]}): **{best / 1e9:.1f} GFLOP/s**; at that rate the epoch's "
            f"GEMMs alone would take {H.fmt_time(epoch_flops / best)}.", ""]
    rows = []
    for f in H.FRAMEWORKS:
        if fit.get(f):
            achieved, top = epoch_flops / fit[f], epoch_flops / best_fit[f]
            rows.append([H.LABELS[f], f"{achieved / 1e9:.1f}", H.fmt_pct(achieved / best),
                         f"{top / 1e9:.1f}", H.fmt_pct(top / best)])
    out.append(H.md_table(["framework", "achieved GFLOP/s (median fit)",
                           "fraction of NumPy's SGEMM rate", "GFLOP/s (best fit)",
                           "fraction (best fit)"], rows))
    return out


def summary_table(fits_by_workload, args):
    rows = []
    for name, fit in fits_by_workload.items():
        _, peer_t = H.faster_peer(fit)
        rows.append([f"training, {name}"]
                    + [H.fmt_time(fit.get(f)) for f in H.FRAMEWORKS]
                    + [H.fmt_ratio(H.speedup(fit.get(p), fit.get("ember"))) for p in H.PEERS]
                    + [H.fmt_ratio(H.speedup(peer_t, fit.get("ember")))])
    headers = ["workload"] + [H.LABELS[f] for f in H.FRAMEWORKS] \
        + [f"ember vs {H.LABELS[p]}" for p in H.PEERS] + ["ember vs faster peer"]
    return H.md_table(headers, rows)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=(*WORKLOADS, "all"), default="all")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per framework "
                   "(default 5; 2 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny 10 epochs, wide on "
                   "4192 rows, mnist 1 epoch on 6416 rows, 2 repeats")
    p.add_argument("--no-gemm", action="store_true", help="skip the NumPy SGEMM reference")
    H.add_common_arguments(p, unit="run", settle=0.5)
    return H.finish_common_arguments(p, p.parse_args(argv), quick_repeats=2)


def main(argv=None, header=True):
    """Runs the benchmark; returns (full markdown, summary table, per-workload sections)."""
    args = parse_args(argv)
    workloads = list(WORKLOADS) if args.workload == "all" else [args.workload]
    sections, fits, raw = [], {}, []
    for name in workloads:
        res = run_workload(name, args)
        text, fits[name] = report_workload(res, args)
        sections.append(text)
        raw.append(res)
        H.progress(f"workload {name} took {res['wall_s']:.0f} s")
    summary = summary_table(fits, args)
    parts = []
    if header and not args.no_env:
        parts += ["## ember training benchmark", "", H.environment_markdown(), ""]
    parts += [summary, "", "Ratios are ember's speed-up (peer time / ember time; "
              "above 1 means ember is faster).", ""]
    parts += ["\n\n".join(sections)]
    text = "\n".join(parts)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)
    return text, summary, "\n\n".join(sections)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker_main(parse_args(sys.argv[1:]))
    else:
        H.exit_on_sigterm()
        t_start = time.perf_counter()
        markdown, _, _ = main()
        print(markdown)
        print(f"\n_total wall time {time.perf_counter() - t_start:.0f} s_")
