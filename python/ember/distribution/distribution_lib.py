"""Keras 3's `keras.distribution` names over MPI processes: `initialize`,
`list_devices`, `DeviceMesh`, `TensorLayout`, `LayoutMap`, `DataParallel`,
`ModelParallel`, `set_distribution`, `distribution`.

A device is a process: `mpiexec -n 4 python train.py` gives the devices
"cpu:0" ... "cpu:3", one model replica each. Under `DataParallel`, fit/evaluate/
predict shard every global batch over the processes and the engine sums the
gradients across them inside each training step (ember.distribution.mpi_world).
"""

import collections.abc
import contextlib
import math
import os
import re
import warnings

import numpy as np

from ember.distribution import mpi_world

DEFAULT_BATCH_DIM_NAME = "batch"

_distribution = None  # the global distribution (set_distribution)


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Joins the job's processes (an MPI world), as Keras's `initialize` does for jax.

    Launch the script with `mpiexec -n N python train.py` or `srun`: MPI's launcher
    knows the hosts, so `job_addresses` is not needed (it is accepted and unused).
    `num_processes` and `process_id`, when given (or in the environment variables
    `KERAS_DISTRIBUTION_NUM_PROCESSES` / `KERAS_DISTRIBUTION_PROCESS_ID`), are
    checked against the launcher's. With one process this does nothing, and mpi4py
    is not imported.

    Every rank's random state is then rank 0's, so weight initialisation and
    shuffling agree across ranks without a seed (as Keras's `initialize_rng`)."""
    if job_addresses is None:
        job_addresses = os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in os.environ:
        process_id = int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"])
    if job_addresses and num_processes is not None and "," in job_addresses \
            and len(job_addresses.split(",")) != num_processes:
        raise ValueError(f"The provided job_addresses {job_addresses} has "
                         f"{len(job_addresses.split(','))} jobs, but num_processes is "
                         f"{num_processes}")
    world = mpi_world.initialize(num_processes, process_id)
    sync_random_state(world)


def sync_random_state(world):
    """Every rank's ember generator (initializers, shuffling) becomes rank 0's."""
    if world.size > 1:
        from ember import random as _random
        state = world.bcast(_random.generator().bit_generator.state)
        _random.generator().bit_generator.state = state


def num_processes():
    """The number of processes in the job (1 before `initialize` or without MPI)."""
    return mpi_world.world().size


def process_id():
    """This process's rank, 0 to num_processes() - 1."""
    return mpi_world.world().rank


def list_devices(device_type=None):
    """The job's devices, one per process: ["cpu:0", ..., "cpu:{N-1}"] (global
    devices, as Keras lists them in a distributed setting)."""
    if device_type is not None and str(device_type).lower() != "cpu":
        raise ValueError(f"ember trains on CPU processes; there are no {device_type!r} devices "
                         "for distribution. Use device_type='cpu' or None.")
    _initialize_if_launched()
    return [f"cpu:{i}" for i in range(num_processes())]


def get_device_count(device_type=None):
    """The number of devices `list_devices(device_type)` returns."""
    return len(list_devices(device_type))


def _initialize_if_launched():
    """A script started by mpiexec that builds a distribution without calling
    `initialize` still joins the job: N copies each training alone would be silent."""
    if mpi_world._world is None and mpi_world.launched_processes() > 1:
        initialize()


class DeviceMesh:
    """A grid of devices with named axes, as Keras's (`jax.sharding.Mesh`).

    Args:
        shape: the mesh's shape, e.g. `(4,)` for data parallelism over 4 processes.
        axis_names: a name per axis, e.g. `["batch"]`.
        devices: the devices; defaults to `list_devices()`.
    """

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError("Shape and axis_names cannot be empty. Received: "
                             f"shape={shape}, axis_names={axis_names}")
        if len(shape) != len(axis_names):
            raise ValueError("Shape and axis_names should have same size. "
                             f"Received: shape={shape}, axis_names={axis_names}")
        if devices is None:
            devices = list_devices()
        devices = np.array(devices)
        if math.prod(shape) != math.prod(devices.shape):
            raise ValueError("Shape does not match the number of devices. "
                             f"Received: shape={shape}; devices.shape={devices.shape}")
        self._shape = shape
        self._axis_names = axis_names
        self._devices = np.reshape(devices, shape)

    @property
    def shape(self):
        return self._shape

    @property
    def axis_names(self):
        return self._axis_names

    @property
    def devices(self):
        return self._devices

    def __repr__(self):
        return f"<{self.__class__.__name__} shape={self.shape}, axis_names={self.axis_names}>"

    __str__ = __repr__


class TensorLayout:
    """How a tensor is laid out on a DeviceMesh: a mesh axis name (or None) per
    dimension, as Keras's (`jax.sharding.NamedSharding`)."""

    def __init__(self, axes, device_mesh=None):
        self._axes = tuple(axes)
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def axes(self):
        return self._axes

    @property
    def device_mesh(self):
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh):
        if self._device_mesh is not None:
            raise ValueError("Cannot override device mesh value. Existing "
                             f"value is {self._device_mesh}")
        self._device_mesh = device_mesh
        self._validate_axes()

    def _validate_axes(self):
        if self._device_mesh:
            valid = set(self._device_mesh.axis_names)
            names = set(self._axes) - {None}
            if names - valid:
                raise ValueError(f"Invalid axis names for Layout. Valid axis names: {valid}, "
                                 f"Got {names}")

    def __repr__(self):
        return f"<{self.__class__.__name__} axes={self.axes}, device_mesh={self.device_mesh}>"

    __str__ = __repr__


class Distribution:
    """The base of DataParallel and ModelParallel, as Keras's: a device mesh, the name
    of its batch axis, and the process this is (`num_processes`, `data_shard_id`)."""

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset
        self._num_processes = num_processes()
        self._process_id = process_id()
        self._is_multi_process = self._num_processes > 1

    @property
    def num_processes(self):
        """Total number of processes in the job."""
        return self._num_processes

    @property
    def num_model_replicas(self):
        raise NotImplementedError()

    @property
    def data_shard_id(self):
        """The shard of each global batch this process takes (its rank)."""
        return self._process_id

    def get_data_layout(self, data_shape):
        raise NotImplementedError()

    def get_variable_layout(self, variable):
        raise NotImplementedError()

    def get_tensor_layout(self, path):
        raise NotImplementedError()

    @contextlib.contextmanager
    def scope(self):
        """Makes this distribution the current one inside the `with` block."""
        original = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(original)

    @property
    def device_mesh(self):
        return self._device_mesh

    @property
    def batch_dim_name(self):
        return self._batch_dim_name

    @property
    def auto_shard_dataset(self):
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, auto_shard_dataset):
        self._auto_shard_dataset = auto_shard_dataset

    def distribute_dataset(self, dataset):
        """Datasets are sharded by fit/evaluate/predict themselves (see DataParallel)."""
        return dataset

    def __repr__(self):
        return f"<{self.__class__.__name__} device_mesh={self.device_mesh}>"

    __str__ = __repr__


class DataParallel(Distribution):
    """Data parallelism: every process holds the whole model and takes its share of
    each global batch; gradients are summed across processes in one buffer per step.

    With `set_distribution(DataParallel())` in a job of N processes, fit/evaluate/
    predict on arrays (the same arrays on every rank) treat `batch_size` as the
    global batch: rank r takes rows [m*r//N, m*(r+1)//N) of each batch of m rows.
    The result equals one process training with the same batch size, to float32
    rounding. A generator yields on each rank that rank's part of every global
    batch; a PyDataset is read by index, batch i on rank i % N (with
    `auto_shard_dataset=False` each rank's PyDataset is taken to be its own part,
    as a generator).

    Args:
        device_mesh: a 1-D DeviceMesh over the processes (its first axis is used).
        devices: the devices, one per process; defaults to `list_devices()`.
        auto_shard_dataset: shard a PyDataset's batches over the processes.
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        _initialize_if_launched()
        if device_mesh:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError("Expect `mesh` to be an instance of `DeviceMesh`. "
                                 f"Received: mesh={device_mesh} (of type {type(device_mesh)})")
            super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)
            if device_mesh.devices.ndim != 1:
                warnings.warn("Expect the input mesh to be 1D, but received mesh.devices.ndim="
                              f"{device_mesh.devices.ndim}. The first axis will be used for "
                              "data-parallel sharding.", stacklevel=2)
        else:
            devices = np.array(devices if devices else list_devices())
            mesh = DeviceMesh(shape=devices.shape, axis_names=[DEFAULT_BATCH_DIM_NAME],
                              devices=devices)
            super().__init__(mesh, DEFAULT_BATCH_DIM_NAME, auto_shard_dataset)
        if self.num_model_replicas != self.num_processes:
            raise ValueError(
                f"DataParallel over {self.num_model_replicas} devices, but the job has "
                f"{self.num_processes} process(es): ember runs one model replica per process. "
                f"Launch with `mpiexec -n {self.num_model_replicas}` or leave `devices` out.")

    @property
    def num_model_replicas(self):
        mesh = self.device_mesh
        return mesh.devices.shape[0] if mesh.devices.ndim else 1

    def get_data_layout(self, data_shape):
        spec = [None] * len(data_shape)
        spec[0] = self.batch_dim_name  # shard on the batch dimension
        return TensorLayout(spec, self.device_mesh)

    def get_variable_layout(self, variable):
        if getattr(variable, "_layout", None) is not None:
            return variable._layout
        return TensorLayout([None] * len(variable.shape), self.device_mesh)  # replicated

    def get_tensor_layout(self, path):
        return None  # data parallelism leaves intermediate tensors as they are


class ModelParallel(Distribution):
    """Keras's model parallelism (variables sharded over a mesh axis). ember does not
    shard variables: it raises NotImplementedError; use DataParallel."""

    def __init__(self, *, layout_map=None, batch_dim_name=None, auto_shard_dataset=True,
                 **kwargs):
        raise NotImplementedError(
            "ember.distribution.ModelParallel is not implemented: ember replicates the whole "
            "model on every process. Use ember.distribution.DataParallel().")


class LayoutMap(collections.abc.MutableMapping):
    """Variable paths (regular expressions) -> TensorLayout, as Keras's LayoutMap (it
    only feeds ModelParallel, which ember does not implement)."""

    def __init__(self, device_mesh):
        self._layout_map = collections.OrderedDict()
        self._device_mesh = device_mesh

    def __getitem__(self, key):
        if key in self._layout_map:
            return self._layout_map[key]
        matching = [pattern for pattern in self._layout_map if re.fullmatch(pattern, key)]
        if len(matching) > 1:
            raise ValueError(f"Path '{key}' matches multiple layout specification keys: "
                             f"{matching}. Please make sure each tensor/variable path only "
                             "matches at most one layout specification key in the LayoutMap.")
        return self._layout_map[matching[0]] if matching else None

    def __setitem__(self, key, layout):
        if key in self._layout_map:
            raise ValueError(f"{key} already exist in the LayoutMap with value "
                             f"{self._layout_map[key]}. Please make sure to not use "
                             "duplicated keys.")
        if isinstance(layout, tuple):
            layout = TensorLayout(axes=layout, device_mesh=None)
        if not isinstance(layout, TensorLayout):
            raise ValueError(f"{layout} should be a TensorLayout type, got {type(layout)}")
        if layout.device_mesh is None and self._device_mesh is not None:
            layout.device_mesh = self._device_mesh
        self._layout_map[key] = layout

    def __delitem__(self, key):
        return self._layout_map.pop(key)

    def __len__(self):
        return len(self._layout_map)

    def __iter__(self):
        return iter(self._layout_map)

    @property
    def device_mesh(self):
        return self._device_mesh


def distribution():
    """The current distribution (None: one process's training, as without one)."""
    return _distribution


def set_distribution(value):
    """Sets the global distribution: a DataParallel, or None."""
    global _distribution
    if value is not None and not isinstance(value, Distribution):
        raise TypeError(f"set_distribution expects a Distribution (e.g. DataParallel()) or "
                        f"None, got {type(value).__name__}")
    _distribution = value


def data_parallel_world():
    """The world fit/evaluate/predict shard over: the MPI world when a DataParallel
    distribution is set in a job of several processes, else None."""
    if isinstance(_distribution, DataParallel) and mpi_world.world().size > 1:
        return mpi_world.world()
    return None


def writes_files():
    """True on the rank that writes files (rank 0; every rank in one process)."""
    return mpi_world.world().rank == 0


def write_on_rank_zero(write):
    """Runs `write()` (a save) on rank 0 only under DataParallel; the other ranks wait
    for it and raise what it raised, so that a failed save (a full disk) is an error on
    every rank, not a hang. In one process it simply runs `write()`."""
    world = data_parallel_world()
    if world is None:
        return write()
    failure, result = None, None
    if world.rank == 0:
        try:
            result = write()
        except Exception as e:  # reported to every rank below, then raised here
            failure = e
    outcome = world.bcast(None if failure is None else (type(failure), str(failure)))
    if failure is not None:
        raise failure
    if outcome is not None:
        kind, message = outcome
        try:
            error = kind(f"on rank 0: {message}")
        except Exception:
            error = RuntimeError(f"{kind.__name__} on rank 0: {message}")
        raise error
    return result
