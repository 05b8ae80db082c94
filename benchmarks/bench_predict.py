#!/usr/bin/env python
"""Single-row inference latency: ember vs Keras 3 (jax backend) vs PyTorch.

A small MLP, 8 -> Dense(50, relu) -> Dense(50, relu) -> Dense(1), with the
same weights in every framework, predicts ONE row (a (1, 8) float32 NumPy
array) through each framework's public entry points:

* ember and Keras: `model.predict(x1, verbose=0)`, `model.predict_on_batch(x1)`
  and `model(x1)` (Keras's `model(x1)` returns a jax array computed
  asynchronously; it is waited for with `jax.block_until_ready`, so every call
  is timed to a finished result);
* PyTorch: `with torch.no_grad(): model(torch.from_numpy(x1))`, conversion
  included (PyTorch has no predict API: this is its way to do all three).

Each call style is warmed up, then timed timeit-style: a loop of N calls (N
chosen so one loop lasts ~0.5 s) with the GC paused, repeated --repeats times
(interleaved across frameworks), reporting the median µs per call.

    python benchmarks/bench_predict.py                # 5 repeats
    python benchmarks/bench_predict.py --quick        # smoke run, a few seconds of timing
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402

SCRIPT = os.path.abspath(__file__)
SIZES = (8, 50, 50, 1)
CALLS = ("predict", "predict_on_batch", "call")
CALL_LABELS = {"predict": "`model.predict(x1, verbose=0)`",
               "predict_on_batch": "`model.predict_on_batch(x1)`",
               "call": "`model(x1)`"}
TORCH_CALL = "`with torch.no_grad(): model(torch.from_numpy(x1))`"


def make_inputs(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, SIZES[0]), dtype=np.float32)
    return np.ascontiguousarray(x[:1])  # the one row every framework predicts


def initial_weights(seed):
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    out = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        out.append((rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                    rng.uniform(-0.1, 0.1, fan_out).astype(np.float32)))
    return out


# ---------------------------------------------------------------------------
# workers
# ---------------------------------------------------------------------------
def _keras_like_calls(K, weights, x1, block=None):
    layers = [K.layers.Input(shape=(SIZES[0],))]
    layers += [K.layers.Dense(n, activation="relu") for n in SIZES[1:-1]]
    layers.append(K.layers.Dense(SIZES[-1]))
    model = K.models.Sequential(layers)
    model.set_weights([a for pair in weights for a in pair])
    wait = block or (lambda y: y)
    return {
        "predict": lambda: model.predict(x1, verbose=0),
        "predict_on_batch": lambda: model.predict_on_batch(x1),
        "call": lambda: wait(model(x1)),
    }


def _torch_calls(weights, x1, threads):
    import torch

    torch.set_num_threads(threads)
    model = H.torch_mlp(weights).eval()

    def call():
        with torch.no_grad():
            return model(torch.from_numpy(x1))
    return {"call": call}


def worker_main(args):
    import numpy as np

    def setup():
        x1 = make_inputs(args.seed)
        weights = initial_weights(args.seed)
        if args.worker == "ember":
            import ember
            calls = _keras_like_calls(ember, weights, x1)
        elif args.worker == "keras":
            import jax
            import keras
            assert keras.backend.backend() == "jax", keras.backend.backend()
            calls = _keras_like_calls(keras, weights, x1, block=jax.block_until_ready)
        elif args.worker == "torch":
            calls = _torch_calls(weights, x1, args.threads)
        else:
            raise ValueError(f"unknown worker {args.worker}")
        outputs = {}
        for name, fn in calls.items():  # warm-up (tracing, JIT, first allocations)
            for _ in range(5):
                y = fn()
            outputs[name] = np.asarray(y, dtype=np.float64).ravel().tolist()

        def handle(cmd):
            fn = calls[cmd["call"]]
            if cmd["cmd"] == "calibrate":
                return {"number": H.autorange(fn, cmd["target"])}
            window = H.CpuWindow()
            per_call = H.time_calls(fn, cmd["number"])
            return {"s": per_call, "others": window.stop()}
        info = {"calls": list(calls), "outputs": outputs, "digest": H.digest(x1)}
        if args.worker == "ember":
            info["ember_file"] = ember.__file__  # which build ran (benchmarks/ab.py checks it)
        return info, handle

    H.serve(setup)


# ---------------------------------------------------------------------------
# the parent
# ---------------------------------------------------------------------------
def run(args):
    notes = []
    names = [f for f in H.FRAMEWORKS if f in args.frameworks]
    wargs = ["--seed", str(args.seed), "--threads", str(args.threads)]
    probe = H.ContentionProbe()
    workers = H.start_workers(SCRIPT, names, wargs, notes)
    series, numbers, outputs, digests = [], {}, {}, {}
    try:
        for name, w in workers.items():
            digests[name] = w.info["digest"]
            for call in w.info["calls"]:
                outputs[(name, call)] = w.info["outputs"][call]
                numbers[(name, call)] = w.request(cmd="calibrate", call=call,
                                                  target=args.target)["number"]
                series.append((name, call))
        H.progress(f"calibrated loops: { {f'{n}.{c}': v for (n, c), v in numbers.items()} }")
        plan = [((name, call), name, {"cmd": "time", "call": call, "number": numbers[(name, call)]})
                for name, call in series]
        replies = H.interleaved(workers, plan, args.repeats, args.settle, notes, label="predict",
                                max_others=args.max_others, retries=args.retries,
                                max_wait=args.max_wait, wait_budget=args.wait_budget)
        times = {key: [r["s"] for r in v] for key, v in replies.items()}
        others = {key: [r["others"] for r in v if r.get("others") is not None]
                  for key, v in replies.items()}
    finally:
        H.close_workers(workers)
    if len(set(digests.values())) > 1:
        notes.append(f"INPUT MISMATCH between workers: {digests}")
    return {"times": times, "others": others, "replies": replies, "numbers": numbers,
            "outputs": outputs,
            "notes": notes,
            "digest": next(iter(digests.values()), None), "contention": probe.stop()}


def report(res, args):
    times = res["times"]
    med = {key: H.median(v) for key, v in times.items() if v}
    torch_t = med.get(("torch", "call"))
    rows = []
    for call in CALLS:
        e, k = med.get(("ember", call)), med.get(("keras", call))
        peers = {"keras": k, "torch": torch_t}
        _, best = H.faster_peer(peers)
        rows.append([CALL_LABELS[call], H.fmt_us(e), H.fmt_us(k), H.fmt_us(torch_t),
                     H.fmt_ratio(H.speedup(k, e)), H.fmt_ratio(H.speedup(torch_t, e)),
                     H.fmt_ratio(H.speedup(best, e))])
    headers = ["call (one row)", "ember", "Keras 3 (jax)", "PyTorch †", "ember vs Keras",
               "ember vs PyTorch", "ember vs faster peer"]
    out = [H.md_table(headers, rows), "",
           f"† PyTorch has no predict API; every row shows the same {TORCH_CALL} "
           "(NumPy→tensor conversion included).", ""]

    # detail: spread and loop counts, plus output agreement
    detail = []
    for (name, call), v in times.items():
        if not v:
            continue
        label = TORCH_CALL if name == "torch" else CALL_LABELS[call]
        detail.append([H.LABELS[name], label, H.fmt_us(H.median(v)), H.fmt_us(min(v)),
                       H.fmt_pct(H.spread(v)), H.fmt_pct(H.median(res["others"][(name, call)])),
                       f"{res['numbers'][(name, call)]:,}"])
    out.append(H.md_table(["framework", "call", "median / call", "best / call", "spread",
                           "others' CPU", "calls per loop"], detail,
                          align=["l", "l", "r", "r", "r", "r", "r"]))
    ref = res["outputs"].get(("ember", "predict"))
    if ref is not None:
        diffs = [max(abs(a - b) for a, b in zip(ref, o)) for o in res["outputs"].values()]
        out += ["", f"Same input row (digest {res['digest']}) and weights everywhere: outputs "
                f"agree with ember's `predict` to within {max(diffs):.1e} "
                f"(ember: {ref[0]:.6f})."]
    best_e = min((v for (n, _), v in med.items() if n == "ember"), default=None)
    best_p = min((v for (n, _), v in med.items() if n in H.PEERS), default=None)
    if best_e and best_p:
        out += ["", f"Fastest ember call vs fastest peer call: **{H.fmt_ratio(best_p / best_e)}** "
                f"({H.fmt_us(best_e)} vs {H.fmt_us(best_p)})."]
    run_others = {f"{H.LABELS[n]} {c}": [r.get("others") for r in v]
                  for (n, c), v in res["replies"].items()}
    out += ["", "Machine load during this benchmark: "
            f"{H.contention_note(res['contention'], run_others, args.max_others)}."]
    out += [f"\n> note: {n}" for n in res["notes"]]
    return "\n".join(out), rows


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=None,
                   help="timed loops per call style (default 5; 3 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: 0.05 s loops, 3 repeats")
    p.add_argument("--target", type=float, default=None,
                   help="seconds per timed loop (default 0.5; 0.05 with --quick)")
    H.add_common_arguments(p, unit="loop", settle=0.2)
    args = p.parse_args(argv)
    if args.target is None:
        args.target = 0.05 if args.quick else 0.5
    return H.finish_common_arguments(p, args, quick_repeats=3)


def main(argv=None, header=True):
    """Runs the benchmark; returns (markdown, summary_rows, raw)."""
    args = parse_args(argv)
    res = run(args)
    text, rows = report(res, args)
    parts = []
    if header and not args.no_env:
        parts += ["## ember single-row predict latency", "", H.environment_markdown(), ""]
    parts += [f"### Predict latency, one row, MLP {' → '.join(map(str, SIZES))}", "",
              f"Median µs per call over {args.repeats} timed loops of ~{args.target:g} s each; "
              "ratios are ember's speed-up (peer time / ember time; above 1 means ember is "
              "faster).", "", text]
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"times": {f"{n}.{c}": v for (n, c), v in res["times"].items()},
                       "numbers": {f"{n}.{c}": v for (n, c), v in res["numbers"].items()},
                       "contention": res["contention"], "notes": res["notes"]}, f, indent=1)
    return "\n".join(parts), rows, res


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker_main(parse_args(sys.argv[1:]))
    else:
        H.exit_on_sigterm()
        t_start = time.perf_counter()
        markdown, _, _ = main()
        print(markdown)
        print(f"\n_total wall time {time.perf_counter() - t_start:.0f} s_")
