"""ember.distribution in one process: Keras 3's names and checks, and training under
DataParallel with one process exactly as without it, with nothing of MPI imported.
(Several processes: tests/test_distribution_mpi.py.)"""

import os
import subprocess
import sys
from pathlib import Path

import ember
import numpy as np
import pytest
from ember import distribution


@pytest.fixture(autouse=True)
def no_distribution():
    yield
    distribution.set_distribution(None)


def test_one_process_lists_itself_as_the_only_device():
    distribution.initialize()  # no launcher: nothing to join
    assert distribution.list_devices() == ["cpu:0"]
    assert distribution.get_device_count() == 1
    assert distribution.num_processes() == 1 and distribution.process_id() == 0
    with pytest.raises(ValueError, match="no 'gpu' devices"):
        distribution.list_devices("gpu")


def test_initialize_checks_what_it_is_told_against_the_launch():
    with pytest.raises(ValueError, match="has 3 jobs, but num_processes is 2"):
        distribution.initialize(job_addresses="a:1,b:2,c:3", num_processes=2)
    with pytest.raises(ValueError, match="process_id=1"):
        distribution.initialize(process_id=1)


def test_data_parallel_and_device_mesh_as_keras():
    dp = distribution.DataParallel()
    assert dp.num_processes == 1 and dp.data_shard_id == 0 and dp.num_model_replicas == 1
    assert dp.batch_dim_name == "batch" and dp.device_mesh.shape == (1,)
    assert dp.get_data_layout((8, 3)).axes == ("batch", None)
    assert dp.get_tensor_layout("dense/kernel") is None
    mesh = distribution.DeviceMesh((1,), ["data"], devices=["cpu:0"])
    assert distribution.DataParallel(device_mesh=mesh).batch_dim_name == "data"
    with pytest.raises(ValueError, match="Shape does not match the number of devices"):
        distribution.DeviceMesh((2,), ["batch"])
    with pytest.raises(ValueError, match="same size"):
        distribution.DeviceMesh((1,), ["batch", "model"])
    with pytest.raises(ValueError, match="one model replica per process"):
        distribution.DataParallel(devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="Invalid axis names"):
        distribution.TensorLayout(("model",), mesh)


def test_layout_map_matches_paths_by_regular_expression():
    mesh = distribution.DeviceMesh((1,), ["batch"])
    layout_map = distribution.LayoutMap(mesh)
    layout_map[".*dense.*kernel"] = (None, "batch")
    assert layout_map["model/dense_1/kernel"].axes == (None, "batch")
    assert layout_map["model/dense_1/kernel"].device_mesh is mesh
    assert layout_map["model/conv/kernel"] is None
    layout_map[".*kernel"] = (None, None)
    with pytest.raises(ValueError, match="matches multiple layout"):
        layout_map["dense/kernel"]
    with pytest.raises(NotImplementedError, match="Use ember.distribution.DataParallel"):
        distribution.ModelParallel(layout_map=layout_map)


def test_set_distribution_and_scope():
    dp = distribution.DataParallel()
    with dp.scope():
        assert distribution.distribution() is dp
    assert distribution.distribution() is None
    with pytest.raises(TypeError, match="Distribution"):
        distribution.set_distribution("data_parallel")


def _train(rng_seed, x, y):
    ember.utils.set_random_seed(rng_seed)
    model = ember.Sequential([ember.Input(shape=(6,)), ember.layers.Dense(8, activation="relu"),
                              ember.layers.BatchNormalization(), ember.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0)
    return model, history


def test_data_parallel_in_one_process_trains_exactly_as_without_it(rng):
    x = rng.normal(size=(80, 6)).astype(np.float32)
    y = x @ rng.normal(size=(6, 1)).astype(np.float32)
    seed = int(rng.integers(2**31))
    alone, alone_history = _train(seed, x, y)
    distribution.set_distribution(distribution.DataParallel())
    model, history = _train(seed, x, y)
    for a, b in zip(model.get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history.history == alone_history.history
    np.testing.assert_array_equal(model.predict(x, verbose=0), alone.predict(x, verbose=0))


def test_one_process_never_imports_mpi(tmp_path):
    # A fresh interpreter: this one may have imported mpi4py for another test.
    script = (
        "import sys, numpy as np, ember\n"
        "ember.distribution.initialize()\n"
        "ember.distribution.set_distribution(ember.distribution.DataParallel())\n"
        "m = ember.Sequential([ember.Input(shape=(3,)), ember.layers.Dense(2)])\n"
        "m.compile(optimizer='sgd', loss='mse')\n"
        "m.fit(np.ones((8, 3), 'f4') * np.arange(3), np.ones((8, 2), 'f4'), verbose=0)\n"
        f"m.save({str(tmp_path / 'm.keras')!r})\n"
        "assert 'mpi4py' not in sys.modules, 'mpi4py was imported'\n"
        "print('no mpi4py')\n")
    path = [str(Path(ember.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {k: v for k, v in os.environ.items() if "OMPI" not in k and "PMI" not in k}
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no mpi4py" in result.stdout
    assert (tmp_path / "m.keras").exists()
