"""`ember.distribution`: Keras 3's `keras.distribution` API for training on several
processes (MPI ranks) at once - `initialize()`, then
`set_distribution(DataParallel())`, run as `mpiexec -n 4 python train.py`.
See ember.distribution.distribution_lib."""

from ember.distribution.distribution_lib import (
    DataParallel,
    DeviceMesh,
    Distribution,
    LayoutMap,
    ModelParallel,
    TensorLayout,
    distribution,
    get_device_count,
    initialize,
    list_devices,
    num_processes,
    process_id,
    set_distribution,
)

__all__ = ["DataParallel", "DeviceMesh", "Distribution", "LayoutMap", "ModelParallel",
           "TensorLayout", "distribution", "get_device_count", "initialize", "list_devices",
           "num_processes", "process_id", "set_distribution"]
