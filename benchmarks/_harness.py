"""Shared plumbing for ember's benchmarks (not a benchmark itself).

Every framework runs in a worker subprocess of its own, so that

* Keras picks its backend (jax) before anything else is imported,
* no framework's thread pools (OpenBLAS, OpenMP, XLA's Eigen pool, PyTorch's
  intra-op pool) live in the same process as another's, and
* a framework that is missing or fails to start only blanks its own column.

The workers stay alive for the whole run and take one command at a time over a
JSON-lines pipe. The parent interleaves the repeats (ember, Keras, PyTorch,
ember, Keras, ...; the order rotates every repeat) and pauses briefly before
each hand-off so that the previous worker's spinning threads have gone to sleep.
Slow drifts of a noisy machine then hit every framework alike, and medians
absorb the odd outlier.
"""

import argparse
import gc
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

PEERS = ("keras", "torch")
FRAMEWORKS = ("ember",) + PEERS
LABELS = {"ember": "ember", "keras": "Keras 3 (jax)", "torch": "PyTorch", "numpy": "NumPy"}
_MODULES = {"ember": ("ember",), "keras": ("keras", "jax"), "torch": ("torch",),
            "numpy": ("numpy",)}


# ---------------------------------------------------------------------------
# discovery and environment
# ---------------------------------------------------------------------------
def installed(framework):
    """True when the framework's packages can be imported (without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in _MODULES[framework])


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment_markdown():
    """A few lines describing the machine and the versions measured."""
    versions = []
    for label, dist in (("ember", "ember"), ("keras", "keras"), ("jax", "jax"),
                        ("torch", "torch"), ("numpy", "numpy")):
        v = _version(dist)
        versions.append(f"{label} {v}" if v else f"{label} (not installed)")
    commit = _git_commit()
    lines = [
        f"- Machine: {_cpu_model()}, {usable_cores()} usable cores, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; " + ", ".join(versions)
        + (f"; ember checkout {commit}" if commit else ""),
    ]
    note = openblas_coretype_note()
    if note:
        lines.append(f"- {note}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# statistics and formatting
# ---------------------------------------------------------------------------
def median(values):
    return statistics.median(values) if values else None


def spread(values):
    """(max - min) / median, a rough noise indicator for a set of repeats."""
    if not values or len(values) < 2:
        return None
    m = statistics.median(values)
    return (max(values) - min(values)) / m if m else None


def fmt_time(seconds):
    if seconds is None:
        return "n/a"
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_us(seconds):
    return "n/a" if seconds is None else f"{seconds * 1e6:,.1f} µs"


def fmt_ratio(r):
    if r is None:
        return "n/a"
    return f"{r:.2f}×" if r < 100 else f"{r:.0f}×"


def fmt_pct(x):
    return "n/a" if x is None else f"{100 * x:.0f}%"


def speedup(peer_time, ember_time):
    """How many times faster ember is than the peer (>1: ember is faster)."""
    if peer_time is None or ember_time is None or ember_time <= 0:
        return None
    return peer_time / ember_time


def faster_peer(times):
    """(name, time) of the fastest peer that has a time, or (None, None)."""
    best = [(t, p) for p, t in times.items() if p in PEERS and t is not None]
    if not best:
        return None, None
    t, p = min(best)
    return p, t


def md_table(headers, rows, align=None):
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    marks = {"l": ":--", "r": "--:", "c": ":-:"}
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(marks[a] for a in align) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def digest(*arrays):
    """A short fingerprint of the benchmark data, to show every worker used the same."""
    h = hashlib.sha1()
    for a in arrays:
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:12]


class ContentionProbe:
    """How busy the machine was with *other* processes while a benchmark ran.

    From /proc/stat (all CPU time spent on the machine) minus the CPU time of
    this process and its reaped children (the workers): the share of the
    machine's cores that something else used. Linux only; None elsewhere.
    """

    def __init__(self):
        self._t0 = time.perf_counter()
        self._busy0 = self._machine_busy()
        self._own0 = self._own_cpu()
        self.load0 = self._load()

    @staticmethod
    def _machine_busy():
        try:
            with open("/proc/stat") as f:
                ticks = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_cpu():
        total = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            r = resource.getrusage(who)
            total += r.ru_utime + r.ru_stime
        return total

    @staticmethod
    def _load():
        try:
            return os.getloadavg()[0]
        except OSError:
            return None

    def stop(self):
        """{"other_share": fraction of all cores used by others, "load": (start, end)}."""
        wall = time.perf_counter() - self._t0
        busy = self._machine_busy()
        other = None
        if busy is not None and self._busy0 is not None and wall > 0:
            others = (busy - self._busy0) - (self._own_cpu() - self._own0)
            other = max(0.0, others / (wall * (os.cpu_count() or 1)))
        return {"other_share": other, "load": (self.load0, self._load()), "wall_s": wall}


def contention_note(probe_result, run_others=None, max_others=None):
    """One line on machine load: over the whole section (waits included), and -
    what matters - during the timed runs that were kept.

    run_others: {series label: [others' CPU share of each kept run (None: too short)]}.
    """
    other, (l0, l1) = probe_result["other_share"], probe_result["load"]
    parts = []
    measured = sum(1 for vals in (run_others or {}).values() for v in vals if v is not None)
    if measured and max_others is not None:
        busy = {k: sum(1 for v in vals if v is not None and v > max_others)
                for k, vals in run_others.items()}
        total = measured
        n_busy = sum(busy.values())
        if n_busy:
            worst = [k for k, n in busy.items() if n * 2 > len(run_others[k])]
            warn = ("**⚠ unreliable: most timed runs of " + ", ".join(worst)
                    + " shared the CPU with other processes** — ") if worst else ""
            parts.append(f"{warn}{n_busy} of {total} kept timed runs had other processes "
                         f"using more than {100 * max_others:.0f}% of the CPU (waiting and "
                         "retries were exhausted)")
        else:
            parts.append(f"none of the {measured} kept timed runs long enough to check had "
                         f"other processes using more than {100 * max_others:.0f}% of the CPU")
    if other is not None:
        parts.append(f"over the whole section, waits included, other processes used "
                     f"~{100 * other:.0f}% of the machine's CPU")
    if l0 is not None:
        parts.append(f"1-min load average {l0:.1f} → {l1:.1f} on {os.cpu_count()} cores")
    return "; ".join(parts)


def blas_info(path_contains=None):
    """"OpenBLAS 0.3.34 (Haswell kernels, pthreads, 2 threads)" for the BLAS libraries
    loaded in this process (threadpoolctl, when installed), or None."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    out = []
    for p in threadpool_info():
        if p.get("user_api") != "blas":
            continue
        if path_contains and path_contains not in p.get("filepath", ""):
            continue
        name = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}.get(
            p.get("internal_api"), p.get("internal_api"))
        details = [f"{p['architecture']} kernels"] if p.get("architecture") else []
        details += [p["threading_layer"]] if p.get("threading_layer") else []
        details.append(f"{p.get('num_threads')} threads")
        out.append(f"{name} {p.get('version') or ''} ({', '.join(details)})".replace("  ", " "))
    return "; ".join(out) or None


def torch_mlp(weights):
    """The MLP as a torch.nn.Sequential: Linear layers holding [(kernel (in, out), bias),
    ...] with ReLU between them (no output activation: callers add what they need)."""
    import torch
    from torch import nn

    mods = []
    for i, (kernel, bias) in enumerate(weights):
        lin = nn.Linear(*kernel.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(kernel.T))
            lin.bias.copy_(torch.from_numpy(bias))
        mods.append(lin)
        if i < len(weights) - 1:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def progress(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# the worker side
# ---------------------------------------------------------------------------
def serve(setup):
    """Runs a worker: `setup()` returns (info, handle) where handle(cmd) -> dict.

    Replies go to the original stdout; anything a library prints goes to stderr
    (which the parent keeps in a log and shows only when something fails).
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(msg):
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    try:
        info, handle = setup()
    except Exception:  # noqa: BLE001 - reported to the parent
        send({"error": traceback.format_exc()})
        return
    send({"ready": True, **info})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("cmd") == "quit":
            break
        try:
            gc.collect()
            send(handle(cmd))
        except Exception:  # noqa: BLE001
            send({"error": traceback.format_exc()})


# ---------------------------------------------------------------------------
# the parent side
# ---------------------------------------------------------------------------
class WorkerError(RuntimeError):
    pass


class Worker:
    """A framework's worker process: `request(cmd=...)` -> its reply (a dict)."""

    def __init__(self, script, name, args, env=None, start_timeout=600):
        self.name = name
        self._log = tempfile.TemporaryFile(mode="w+")
        full_env = dict(os.environ)
        for key, value in (env or {}).items():  # None removes a variable
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        self._proc = subprocess.Popen(
            [sys.executable, "-u", script, "--worker", name, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            env=full_env)
        try:
            self.info = self._read()
        except BaseException:
            self._proc.kill()
            self._proc.wait()
            raise

    def log_tail(self, chars=3000):
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-chars:]

    def _read(self):
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait(timeout=30)
            raise WorkerError(f"{self.name} worker exited (rc={self._proc.returncode}):\n"
                              + self.log_tail())
        msg = json.loads(line)
        if "error" in msg:
            raise WorkerError(f"{self.name} worker failed:\n{msg['error']}")
        return msg

    def request(self, **cmd):
        self._proc.stdin.write(json.dumps(cmd) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def close(self, kill=False):
        """Asks the worker to quit (it finishes a run in progress first); with
        kill=True - the parent is being interrupted - it is killed at once."""
        if self._proc.poll() is None:
            try:
                if kill:
                    raise OSError("interrupted")
                self._proc.stdin.write('{"cmd": "quit"}\n')
                self._proc.stdin.flush()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._log.close()


# What the workers do with OPENBLAS_CORETYPE (see --openblas-coretype).
_openblas_coretype = "auto"


def openblas_coretype_env():
    """{OPENBLAS_CORETYPE: value or None (removed)} for the workers."""
    if _openblas_coretype == "inherit":
        return {}
    if _openblas_coretype == "auto":
        return {"OPENBLAS_CORETYPE": None}
    return {"OPENBLAS_CORETYPE": _openblas_coretype}


def openblas_coretype_note():
    """One line saying how the workers' OpenBLAS chose its kernels, or None."""
    inherited = os.environ.get("OPENBLAS_CORETYPE")
    if _openblas_coretype == "auto":
        if inherited:
            return (f"OPENBLAS_CORETYPE={inherited} was set in the environment and removed for "
                    "the workers (--openblas-coretype auto), so OpenBLAS (ember's and NumPy's) "
                    "picks its kernels for this CPU as on a fresh machine; XLA and PyTorch "
                    "never read it.")
        return None
    if _openblas_coretype == "inherit":
        return (f"OPENBLAS_CORETYPE is inherited from the environment ({inherited or 'unset'}); "
                "it binds ember's and NumPy's OpenBLAS only.") if inherited else None
    return (f"OPENBLAS_CORETYPE={_openblas_coretype} forced on every worker; it binds ember's "
            "and NumPy's OpenBLAS only.")


def worker_env(name):
    """Environment for a framework's worker: Keras on jax, on the CPU; OpenBLAS's
    core type as --openblas-coretype says."""
    env = openblas_coretype_env()
    if name == "keras":
        env.update({"KERAS_BACKEND": "jax",
                    "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")})
    return env


def start_workers(script, names, args, notes):
    """Starts a worker per installed framework; failures become notes, not crashes."""
    workers = {}
    try:
        for name in names:
            if not installed(name):
                notes.append(f"{LABELS[name]} is not installed: its column shows n/a.")
                continue
            progress(f"starting {LABELS[name]} worker")
            try:
                workers[name] = Worker(script, name, args, env=worker_env(name))
            except WorkerError as e:
                notes.append(f"{LABELS[name]} could not start: {str(e).strip().splitlines()[-1]}")
                progress(str(e))
    except BaseException:
        close_workers(workers)
        raise
    return workers


def close_workers(workers):
    """Closes every worker; kills them outright when an exception (Ctrl-C,
    SIGTERM) is on its way up, instead of waiting for runs in progress."""
    kill = sys.exc_info()[0] is not None
    for w in workers.values():
        w.close(kill=kill)


def exit_on_sigterm():
    """Turns SIGTERM into SystemExit so that `finally` blocks close the workers."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def machine_busy_share(seconds):
    """Share of all the machine's cores busy over the next `seconds` (sleeps meanwhile)."""
    b0, t0 = ContentionProbe._machine_busy(), time.perf_counter()
    time.sleep(seconds)
    b1, t1 = ContentionProbe._machine_busy(), time.perf_counter()
    if b0 is None or b1 is None:
        return None
    return max(0.0, (b1 - b0) / ((t1 - t0) * (os.cpu_count() or 1)))


class QuietWaiter:
    """Before each timed run: pause `settle` seconds (so the previous worker's
    spinning threads go idle) while measuring how busy the machine is - all our
    workers are idle then, so that is other processes' load. If it exceeds
    `max_others`, keep waiting, up to `max_wait` seconds per run and `budget`
    seconds in all."""

    def __init__(self, settle, max_others, max_wait, budget):
        self.settle, self.max_others = settle, max_others
        self.max_wait, self.budget = max_wait, budget
        self.waited = 0.0

    @property
    def exhausted(self):
        """True once the waiting budget is spent: the machine stays busy, and
        repeating runs in the hope of a quiet moment would only waste time."""
        return self.waited >= self.budget

    def wait(self):
        time.sleep(min(0.1, self.settle))
        share = machine_busy_share(max(self.settle - 0.1, 0.2))
        waited = 0.0
        while (self.max_others is not None and share is not None and share > self.max_others
               and waited < self.max_wait and self.waited < self.budget):
            if waited == 0.0:
                progress(f"machine busy ({100 * share:.0f}% of its CPU used by other "
                         "processes): waiting for it to calm down")
            share = machine_busy_share(1.0)
            waited += 1.0
            self.waited += 1.0
        return share


def interleaved(workers, series, repeats, settle, notes, label="", max_others=None,
                retries=0, max_wait=30.0, wait_budget=300.0):
    """Runs `repeats` rounds; each round runs every series once, in a rotating order.

    `series` is a list of (key, worker_name, command). Returns {key: [reply, ...]}.
    Before each run, waits for the machine to be quiet (QuietWaiter). A reply
    whose "others" (the share of the machine's CPU that other processes used
    during the timed part, see CpuWindow) exceeds `max_others` is discarded and
    the run repeated, at most `retries` times per series in all (and not once
    the waiting budget is spent). A worker that fails is dropped with a note.
    """
    quiet = QuietWaiter(settle, max_others, max_wait, wait_budget)
    results = {key: [] for key, _, _ in series}
    retries_left = {key: retries for key, _, _ in series}
    discarded = {key: 0 for key, _, _ in series}
    for r in range(repeats):
        k = r % len(series) if series else 0
        for key, name, cmd in series[k:] + series[:k]:
            while name in workers:
                quiet.wait()
                try:
                    reply = workers[name].request(**cmd)
                except WorkerError as e:
                    notes.append(f"{LABELS.get(name, name)} failed"
                                 f"{(' on ' + label) if label else ''}: "
                                 f"{str(e).strip().splitlines()[-1]}")
                    progress(str(e))
                    workers.pop(name).close()
                    break
                others = reply.get("others")
                if (max_others is not None and others is not None and others > max_others
                        and retries_left[key] > 0 and not quiet.exhausted):
                    retries_left[key] -= 1
                    discarded[key] += 1
                    progress(f"{label} {key}: other processes used {100 * others:.0f}% of the "
                             f"CPU during the run - discarded, running it again")
                    continue
                results[key].append(reply)
                break
        progress(f"{label} repeat {r + 1}/{repeats} done")
    for key, n in discarded.items():
        if n:
            who = LABELS.get(key, key) if isinstance(key, str) else \
                " ".join(LABELS.get(k, k) for k in key)
            notes.append(f"{who}: {n} run(s) discarded and repeated because other processes "
                         f"used more than {100 * max_others:.0f}% of the machine's CPU "
                         "during them.")
    if quiet.waited:
        notes.append(f"waited {quiet.waited:.0f} s in all for the machine to calm down before "
                     "timed runs (other processes were using it).")
    return results


class CpuWindow:
    """Measures, from inside a worker, how much CPU *other* processes used while
    a timed region ran: (machine busy time - this process's CPU time) / (wall x
    cores). /proc/stat ticks are 10 ms, so regions shorter than `min_wall`
    report None rather than a number dominated by rounding."""

    def __init__(self, min_wall=0.25):
        self.min_wall = min_wall
        self.t0 = time.perf_counter()
        self.busy0 = ContentionProbe._machine_busy()
        self.cpu0 = time.process_time()

    def stop(self):
        wall = time.perf_counter() - self.t0
        busy = ContentionProbe._machine_busy()
        if busy is None or self.busy0 is None or wall < self.min_wall:
            return None
        own = time.process_time() - self.cpu0
        return max(0.0, ((busy - self.busy0) - own) / (wall * (os.cpu_count() or 1)))


def run_interleaved_workload(script, name, cfg, names, wargs, repeats, args, notes):
    """One workload of a training benchmark: start a worker per framework (`names`, each running
    `script` with `wargs`), time them interleaved `repeats` times, and collect the result the
    report reads (per-framework runs, data digest, BLAS in use, the machine's contention)."""
    progress(f"workload {name}: {cfg}")
    t0 = time.perf_counter()
    probe = ContentionProbe()
    workers = start_workers(script, names, wargs, notes)
    try:
        digests = {n: w.info.get("digest") for n, w in workers.items() if w.info.get("digest")}
        blas = {n: w.info.get("blas") for n, w in workers.items() if w.info.get("blas")}
        series = [(n, n, {"cmd": "run"}) for n in workers]
        results = interleaved(workers, series, repeats, args.settle, notes, label=name,
                              max_others=args.max_others, retries=args.retries,
                              max_wait=args.max_wait, wait_budget=args.wait_budget)
    finally:
        close_workers(workers)
    if len(set(digests.values())) > 1:
        notes.append(f"DATA MISMATCH between workers: {digests}")
    return {"workload": name, "config": cfg, "results": results, "notes": notes,
            "digest": next(iter(digests.values()), None), "wall_s": time.perf_counter() - t0,
            "contention": probe.stop(), "blas": blas}


def time_calls(fn, number):
    """Seconds per call of fn() over `number` calls, with the GC paused (as timeit)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number
    finally:
        if gc_was_enabled:
            gc.enable()


def autorange(fn, target):
    """A call count (1, 2, 5, 10, 20, ...) whose total time reaches `target` seconds."""
    number = 1
    while True:
        for step in (1, 2, 5):
            n = number * step
            if time_calls(fn, n) * n >= target:
                return n
        number *= 10


def add_common_arguments(p, unit, settle):
    """The options every benchmark script shares; `unit` names what is repeated
    ("run", "loop") and `settle` is the default pause before each timed one."""
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                   help="comma-separated subset of ember,keras,torch")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=usable_cores(),
                   help="PyTorch intra-op threads (default: all usable cores)")
    add_machine_arguments(p, unit, settle, "--repeats")
    p.add_argument("--json", metavar="PATH", help="also write the raw measurements here")
    p.add_argument("--no-env", action="store_true", help="omit the environment lines")
    p.add_argument("--worker", help=argparse.SUPPRESS)


def add_machine_arguments(p, unit, settle, repeats_flag):
    """The options on coping with a busy machine and on OpenBLAS's kernels;
    `repeats_flag` names the script's option for the number of timed runs."""
    p.add_argument("--settle", type=float, default=settle,
                   help=f"pause in seconds before each timed {unit}")
    p.add_argument("--max-others", type=float, default=0.15, metavar="FRACTION",
                   help=f"repeat a {unit} during which other processes used more than this "
                        "share of the machine's CPU (default 0.15; see --retries)")
    p.add_argument("--max-wait", type=float, default=None, metavar="S",
                   help="before a timed run, wait up to S seconds for other processes to use "
                        "less than --max-others of the CPU (default 20; 5 with --quick)")
    p.add_argument("--wait-budget", type=float, default=None, metavar="S",
                   help="total such waiting per workload/benchmark (default 120; 30 with "
                        "--quick)")
    p.add_argument("--retries", type=int, default=None,
                   help=f"at most this many such repeats per series (default: {repeats_flag}; "
                        "0 disables)")
    p.add_argument("--openblas-coretype", default="auto", metavar="auto|inherit|NAME",
                   help="OpenBLAS kernel choice in the workers: 'auto' (default) removes "
                        "OPENBLAS_CORETYPE so OpenBLAS detects the CPU, 'inherit' keeps the "
                        "environment's, a name (e.g. Haswell, SkylakeX) forces it")


def finish_machine_arguments(p, args, repeats):
    """Fills the defaults of add_machine_arguments' options that depend on --quick
    and on the number of repeats, and applies --openblas-coretype."""
    if args.retries is None:
        args.retries = repeats
    if args.max_wait is None:
        args.max_wait = 5.0 if args.quick else 20.0
    if args.wait_budget is None:
        args.wait_budget = 30.0 if args.quick else 120.0
    global _openblas_coretype
    _openblas_coretype = args.openblas_coretype
    return args


def finish_common_arguments(p, args, quick_repeats):
    """Fills the defaults that depend on --quick and checks what the options share."""
    if args.repeats is None:
        args.repeats = quick_repeats if args.quick else 5
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    finish_machine_arguments(p, args, args.repeats)
    args.frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    if set(args.frameworks) - set(FRAMEWORKS) or "ember" not in args.frameworks:
        p.error(f"--frameworks: ember plus any of keras,torch (got {args.frameworks})")
    return args
