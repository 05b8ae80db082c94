#!/usr/bin/env python
"""Runs every ember benchmark in one invocation and prints one Markdown report.

    python benchmarks/run_all.py                 # default settings (a few minutes)
    python benchmarks/run_all.py --quick         # smoke run (about a minute)
    python benchmarks/run_all.py --repeats 9 > benchmark-results.md

The report (stdout) starts with the headline tables - ready to paste into the
project README - followed by the per-workload details; progress goes to stderr.
Options given here are passed to each benchmark (see their --help).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402
import bench_predict  # noqa: E402
import bench_training  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run of everything")
    p.add_argument("--repeats", type=int, help="timed repeats per measurement (default 5)")
    p.add_argument("--frameworks", help="comma-separated subset of ember,keras,torch")
    p.add_argument("--threads", type=int, help="PyTorch intra-op threads")
    p.add_argument("--seed", type=int)
    p.add_argument("--max-others", type=float, metavar="FRACTION",
                   help="repeat runs during which other processes used more than this share "
                        "of the CPU (default 0.15)")
    p.add_argument("--retries", type=int, help="at most this many such repeats per series")
    p.add_argument("--max-wait", type=float, metavar="S",
                   help="wait up to S s before a timed run for the machine to calm down")
    p.add_argument("--wait-budget", type=float, metavar="S",
                   help="total such waiting per workload/benchmark")
    p.add_argument("--json-dir", metavar="DIR", help="write raw measurements (JSON) here")
    p.add_argument("--skip", choices=("training", "predict"), action="append", default=[],
                   help="leave a benchmark out (repeatable)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    common = ["--quick"] if args.quick else []
    for flag in ("repeats", "frameworks", "threads", "seed", "max_others", "retries",
                 "max_wait", "wait_budget"):
        value = getattr(args, flag)
        if value is not None:
            common += [f"--{flag.replace('_', '-')}", str(value)]
    if args.json_dir:
        os.makedirs(args.json_dir, exist_ok=True)

    t0 = time.perf_counter()
    headline, details = [], []
    if "training" not in args.skip:
        extra = ["--json", os.path.join(args.json_dir, "training.json")] if args.json_dir else []
        _, summary, sections = bench_training.main(common + extra, header=False)
        headline += ["**Training** (whole `fit` call, median):", "", summary, ""]
        details += [sections, ""]
    if "predict" not in args.skip:
        extra = ["--json", os.path.join(args.json_dir, "predict.json")] if args.json_dir else []
        text, rows, _ = bench_predict.main(common + extra, header=False)
        table = H.md_table(["call (one row)", "ember", "Keras 3 (jax)", "PyTorch †",
                            "ember vs Keras", "ember vs PyTorch", "ember vs faster peer"], rows)
        headline += ["**Predict latency, one row** (8 → 50 → 50 → 1 MLP, median µs per call; "
                     "† PyTorch: `no_grad` forward incl. `torch.from_numpy`):", "", table, ""]
        details += [text, ""]
    wall = time.perf_counter() - t0

    print("## ember benchmarks\n")
    print(H.environment_markdown())
    print(f"- Settings: {'--quick' if args.quick else 'defaults'}"
          f"{'' if args.repeats is None else f', --repeats {args.repeats}'}; "
          f"total wall time {wall:.0f} s\n")
    print("Ratios are ember's speed-up: peer time / ember time (above 1: ember is faster).\n")
    print("\n".join(headline))
    print("### Details\n")
    print("\n".join(details))


if __name__ == "__main__":
    H.exit_on_sigterm()
    main()
