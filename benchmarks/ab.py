#!/usr/bin/env python
"""A/B timing of two ember builds on the ember-only benchmark workloads.

Each of --a and --b is a directory holding an `ember` package with its built
`_core*.so` (benchmarks/ab_build.sh assembles one from any commit). Every
measurement runs in a fresh subprocess with PYTHONPATH set to that directory
(the worker checks that `ember` was imported from there), and the builds take
turns: per workload, rounds alternate A, B / B, A / A, B ... (so neither build
always goes first). The measurements are the existing workers of
bench_training.py and bench_predict.py, unchanged:

* tiny, wide, mnist - the whole `fit` call after a 1-epoch warm-up fit, as in
  bench_training.py;
* predict.predict, predict.predict_on_batch, predict.call - µs per call of a
  one-row predict, as in bench_predict.py (loop length calibrated once on A and
  used for both builds).

Per workload the report gives both builds' medians, B/A (ratio of the medians;
above 1: B is slower) and a verdict against --threshold (default ±5%), plus the
share of NumPy's SGEMM rate each build reaches on wide and mnist. It reports;
it never fails on a number.

    python benchmarks/ab.py --a /work/ab/old --b /work/ab/new            # 9 rounds
    python benchmarks/ab.py --a /work/ab/old --b /work/ab/new --workloads tiny,predict
    python benchmarks/ab.py --a DIR --b DIR --quick --rounds 1           # smoke test

The Markdown report goes to stdout, progress to stderr.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402
import bench_predict  # noqa: E402
import bench_training  # noqa: E402

TRAINING = tuple(bench_training.WORKLOADS)
PREDICT = tuple(f"predict.{c}" for c in bench_predict.CALLS)
ALL = TRAINING + PREDICT
BUILDS = ("A", "B")
# Timed fits per process (their median is the process's value): a tiny fit lasts
# about 10 ms, too short for a single run to say much on a shared machine.
INNER = {"tiny": 20}


class FreshWorker:
    """A worker that lives for one request: each `request` starts the benchmark
    script's ember worker in a new process with PYTHONPATH=`build_dir`, checks
    that ember came from there, sends the command `inner` times and closes the
    process. The reply is the first one with `key` replaced by the median of the
    `inner` values (all kept in "inner") and "others" by the worst; where the timed
    regions were too short to check (CpuWindow), "others" is other processes' share
    of the CPU over the process's whole life. It has the interface H.interleaved
    expects of a worker."""

    def __init__(self, script, args, build_dir, key, inner=1):
        self.script, self.args, self.key, self.inner = script, args, key, inner
        self.build_dir = os.path.realpath(build_dir)
        self.env = {**H.openblas_coretype_env(), "PYTHONPATH": self.build_dir}

    def request(self, **cmd):
        probe = H.ContentionProbe()  # counts the worker's CPU as ours once it is reaped
        worker = H.Worker(self.script, "ember", self.args, env=self.env)
        try:
            check_origin(worker.info.get("ember_file"), self.build_dir)
            replies = [worker.request(**cmd) for _ in range(self.inner)]
        finally:
            worker.close(kill=sys.exc_info()[0] is not None)  # Ctrl-C: don't wait for it
        others = [r["others"] for r in replies if r.get("others") is not None]
        return {**replies[0], "inner": [r[self.key] for r in replies],
                self.key: H.median([r[self.key] for r in replies]),
                "others": max(others) if others else probe.stop()["other_share"]}

    def close(self, kill=False):
        pass  # nothing outlives a request


def check_origin(ember_file, build_dir):
    where = os.path.realpath(ember_file or "?")
    if not where.startswith(build_dir + os.sep):
        raise H.WorkerError(f"ember was imported from {where}, not from {build_dir}")


def describe_build(path):
    """Checks that `path` holds an ember package with its _core module and that a
    process with PYTHONPATH=`path` imports exactly that; returns the lines of its
    BUILD_INFO file (written by ab_build.sh), if any."""
    path = os.path.realpath(path)
    pkg = os.path.join(path, "ember")
    if not os.path.isfile(os.path.join(pkg, "__init__.py")):
        raise SystemExit(f"ab.py: {path} has no ember package (expected {pkg}/__init__.py)")
    if not glob.glob(os.path.join(pkg, "_core*.so")):
        raise SystemExit(f"ab.py: {pkg} has no built _core*.so (see benchmarks/ab_build.sh)")
    env = {**os.environ, "PYTHONPATH": path}
    probe = subprocess.run([sys.executable, "-c", "import ember, ember._core as c; "
                            "print(ember.__file__); print(c.__file__)"],
                           capture_output=True, text=True, env=env, timeout=300)
    if probe.returncode != 0:
        raise SystemExit(f"ab.py: importing ember from {path} failed:\n{probe.stderr[-2000:]}")
    for line in probe.stdout.splitlines():
        try:
            check_origin(line, path)
        except H.WorkerError as e:
            raise SystemExit(f"ab.py: {e}") from None
    try:
        with open(os.path.join(path, "BUILD_INFO")) as f:
            return [line.rstrip() for line in f if line.strip()]
    except OSError:
        return []


def training_args(name, args):
    out = ["--workload", name, "--seed", str(args.seed)]
    return out + (["--quick"] if args.quick else [])


def predict_args(args):
    return ["--seed", str(args.seed)] + (["--quick"] if args.quick else [])


def calibrate_predict(args, notes):
    """Calls per timed loop for each predict call style, calibrated once on build A
    so that both builds run identical loops."""
    env = {**H.openblas_coretype_env(), "PYTHONPATH": os.path.realpath(args.a)}
    worker = H.Worker(bench_predict.SCRIPT, "ember", predict_args(args), env=env)
    try:
        check_origin(worker.info.get("ember_file"), os.path.realpath(args.a))
        numbers = {c: worker.request(cmd="calibrate", call=c, target=args.target)["number"]
                   for c in bench_predict.CALLS}
    finally:
        worker.close()
    H.progress(f"predict: calls per timed loop {numbers}")
    notes.append(f"predict loops: {numbers} calls (calibrated on A to ~{args.target:g} s).")
    return numbers


def numpy_sgemm(name, args):
    """NumPy's SGEMM rate (FLOP/s) on the GEMMs of one training step of `name`."""
    worker = H.Worker(bench_training.SCRIPT, "numpy", training_args(name, args),
                      env=H.openblas_coretype_env())
    try:
        runs = [worker.request(cmd="run") for _ in range(1 if args.quick else 3)]
    finally:
        worker.close()
    best, mode, _, _, _ = bench_training.sgemm_rate(runs)
    return best, mode


def measure(name, args, numbers):
    """Runs the A/B rounds of one workload. Returns {"times": {"A": [s, ...], "B": [...]},
    "others": (same shape: other processes' CPU share per run), "inner": (each run's
    in-process values), "notes": [...]}."""
    if name in TRAINING:
        script, wargs, cmd, key = (bench_training.SCRIPT, training_args(name, args),
                                   {"cmd": "run"}, "fit_s")
        inner = args.inner if args.inner is not None else INNER.get(name, 1)
    else:
        call = name.split(".", 1)[1]
        script, wargs, key, inner = bench_predict.SCRIPT, predict_args(args), "s", 1
        cmd = {"cmd": "time", "call": call, "number": numbers[call]}
    workers = {b: FreshWorker(script, wargs, path, key, inner)
               for b, path in zip(BUILDS, (args.a, args.b))}
    notes = []
    replies = H.interleaved(workers, [(b, b, cmd) for b in BUILDS], args.rounds, args.settle,
                            notes, label=name, max_others=args.max_others,
                            retries=args.retries, max_wait=args.max_wait,
                            wait_budget=args.wait_budget)
    return {field: {b: [r.get(k) for r in replies[b]] for b in BUILDS}
            for field, k in (("times", key), ("others", "others"), ("inner", "inner"))} \
        | {"notes": notes}


def verdict(ratio, threshold):
    if ratio is None:
        return "n/a"
    change = f"{100 * (ratio - 1):+.1f}%"
    if ratio > 1 + threshold:
        return f"**B slower ({change})**"
    if ratio < 1 - threshold:
        return f"B faster ({change})"
    return f"within ±{100 * threshold:g}% ({change})"


def fmt(name, seconds):
    return H.fmt_us(seconds) if name in PREDICT else H.fmt_time(seconds)


def report(results, args, sgemm):
    rows, detail, share_rows = [], [], []
    for name, res in results.items():
        times, others = res["times"], res["others"]
        a, b = H.median(times["A"]), H.median(times["B"])
        ratio = b / a if a and b else None
        pairs = [tb / ta for ta, tb in zip(times["A"], times["B"]) if ta and tb]
        rows.append([name, fmt(name, a), fmt(name, b),
                     "n/a" if ratio is None else f"{ratio:.3f}", verdict(ratio, args.threshold)])
        noisy = [bld for bld in BUILDS if (H.spread(times[bld]) or 0) > args.threshold]
        measured = [o for bld in BUILDS for o in others[bld] if o is not None]
        busy = sum(1 for o in measured if o > args.max_others)
        flags = [f"spread of {' and '.join(noisy)} above the threshold"] if noisy else []
        if busy:
            flags.append(f"{busy} of {len(measured)} runs shared the CPU")
            if 2 * busy > len(measured):
                rows[-1][-1] += " ⚠ machine busy, unreliable"
        best = {bld: min((v for run in res["inner"][bld] for v in run), default=None)
                for bld in BUILDS}
        detail.append([name, fmt(name, best["A"]), fmt(name, best["B"]),
                       H.fmt_pct(H.spread(times["A"])), H.fmt_pct(H.spread(times["B"])),
                       "n/a" if not pairs else
                       f"{H.median(pairs):.3f} ({min(pairs):.3f}–{max(pairs):.3f})",
                       f"{len(times['A'])} / {len(times['B'])}", "; ".join(flags)])
        if name in sgemm and a and b:
            cfg = bench_training.workload_config(name, args.quick)
            flops = bench_training.flops_per_sample(cfg) * cfg["rows"] * cfg["epochs"]
            rate, mode = sgemm[name]
            share_rows.append([name, f"{rate / 1e9:.1f} ({mode})",
                               f"{flops / a / 1e9:.1f} ({H.fmt_pct(flops / a / rate)})",
                               f"{flops / b / 1e9:.1f} ({H.fmt_pct(flops / b / rate)})"])
    out = [H.md_table(["workload", "A (median)", "B (median)", "B / A",
                       f"verdict (±{100 * args.threshold:g}%)"], rows), "",
           "B / A is the ratio of the medians: above 1, B takes longer. *Best* is the "
           "fastest single timed fit or loop. A run *shared the CPU* when other processes "
           f"used more than {100 * args.max_others:.0f}% of it during the timed part (or, "
           "when that lasted under 0.25 s, during the run's whole process), even after "
           "waiting and retries.", "",
           H.md_table(["workload", "A best", "B best", "A spread", "B spread",
                       "per-round B / A: median (min–max)", "runs A / B", "note"], detail,
                      align=["l", "r", "r", "r", "r", "r", "r", "l"])]
    if share_rows:
        out += ["", "Achieved GFLOP/s of the median fit (model FLOPs / fit time) and its share "
                "of NumPy's SGEMM rate on the same step's GEMMs (see bench_training.py):", "",
                H.md_table(["workload", "NumPy SGEMM GFLOP/s (threads)", "A GFLOP/s (share)",
                            "B GFLOP/s (share)"], share_rows)]
    return "\n".join(out)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, metavar="DIR", help="build A (the baseline): a "
                   "directory holding ember/ with its _core*.so")
    p.add_argument("--b", required=True, metavar="DIR", help="build B (the candidate)")
    p.add_argument("--rounds", type=int, default=None,
                   help="runs per build and workload (default 9; 2 with --quick)")
    p.add_argument("--workloads", default=",".join(ALL),
                   help=f"comma-separated subset of {','.join(ALL)} ('predict' = all three "
                        "predict rows)")
    p.add_argument("--threshold", type=float, default=0.05,
                   help="verdict threshold on B/A - 1 (default 0.05)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: bench_training's --quick workloads (tiny 10 epochs, wide "
                        "4192 rows, mnist 1 epoch on 6416 rows), 0.05 s predict loops")
    p.add_argument("--target", type=float, default=None,
                   help="seconds per timed predict loop (default 0.5; 0.05 with --quick)")
    p.add_argument("--inner", type=int, default=None,
                   help="timed fits per process, each after its own warm-up fit (default 20 "
                        "for tiny, 1 for wide and mnist); the process reports their median")
    p.add_argument("--no-gemm", action="store_true", help="skip the NumPy SGEMM reference")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--json", metavar="PATH", help="also write the raw measurements here")
    H.add_machine_arguments(p, unit="run", settle=0.5, repeats_flag="--rounds")
    args = p.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 9
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.inner is not None and args.inner < 1:
        p.error("--inner must be at least 1")
    if args.target is None:
        args.target = 0.05 if args.quick else 0.5
    names = []
    for w in (w.strip() for w in args.workloads.split(",") if w.strip()):
        names += list(PREDICT) if w == "predict" else [w]
    unknown = sorted(set(names) - set(ALL))
    if unknown or not names:
        p.error(f"--workloads: any of {','.join(ALL)},predict (got {args.workloads!r})")
    args.workloads = [w for w in ALL if w in names]
    return H.finish_machine_arguments(p, args, args.rounds)


def main(argv=None):
    args = parse_args(argv)
    info = {b: describe_build(path) for b, path in zip(BUILDS, (args.a, args.b))}
    t0 = time.perf_counter()
    notes, results, sgemm = [], {}, {}
    numbers = calibrate_predict(args, notes) if set(args.workloads) & set(PREDICT) else {}
    for name in args.workloads:
        if name in TRAINING and bench_training.WORKLOADS[name]["sgemm"] and not args.no_gemm:
            sgemm[name] = numpy_sgemm(name, args)
        H.progress(f"{name}: {args.rounds} rounds of A and B")
        results[name] = measure(name, args, numbers)
        notes += [f"{name}: {n}" for n in results[name]["notes"]]
    wall = time.perf_counter() - t0

    out = ["## ember A/B", ""]
    for b, path in zip(BUILDS, (args.a, args.b)):
        out.append(f"- {b}: `{os.path.realpath(path)}`"
                   + (" — " + "; ".join(info[b]) if info[b] else ""))
    out += [H.environment_markdown().split("\n")[0]]  # the machine line; versions vary by build
    note = H.openblas_coretype_note()
    if note:
        out.append(f"- {note}")
    out += [f"- {args.rounds} round(s) per workload{', --quick (smoke test)' if args.quick else ''}"
            f"; a fresh process per run, builds alternating A, B / B, A; total wall time "
            f"{wall:.0f} s", "", report(results, args, sgemm)]
    out += [f"\n> note: {n}" for n in notes]
    print("\n".join(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"a": os.path.realpath(args.a), "b": os.path.realpath(args.b),
                       "build_info": info, "rounds": args.rounds, "quick": args.quick,
                       "results": results,
                       "sgemm": sgemm, "notes": notes}, f, indent=1)


if __name__ == "__main__":
    H.exit_on_sigterm()
    main()
