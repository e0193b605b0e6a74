"""The mesh, shardings and run padding of lab/devices.py, and when a run goes multi-host.

Several devices are tested in tests/test_sharding.py (a fresh process with fake CPU devices).
"""

from types import SimpleNamespace

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from lab import devices
from lab.devices import (
    DEVICES, batch_sharding, check_divisible, device_mesh, initialize_distributed, multi_host_environment,
    pad_runs, padded_runs, replicated, runs_sharding, unpad_runs,
)

LAUNCHER_VARIABLES = (
    "JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS",
    "OMPI_COMM_WORLD_SIZE",
)


def mesh_of(size: int):
    """Stands in for a mesh of `size` devices where only its size is read."""
    return SimpleNamespace(size=size)


def test_the_mesh_spans_every_device_on_one_axis():
    mesh = device_mesh()
    assert mesh.axis_names == (DEVICES,) and mesh.size == jax.device_count()
    assert runs_sharding(mesh).spec == PartitionSpec(DEVICES)
    assert batch_sharding(mesh, axis=1).spec == PartitionSpec(None, DEVICES)
    assert replicated(mesh).spec == PartitionSpec()


def test_runs_are_padded_to_a_multiple_of_the_device_count():
    assert [padded_runs(r, mesh_of(4)) for r in (1, 4, 5, 6, 8)] == [4, 4, 8, 8, 8]
    assert padded_runs(6, mesh_of(1)) == 6


def test_padding_repeats_the_last_run_and_unpadding_drops_the_copies():
    docs_RxP = np.arange(12).reshape(6, 2)
    keys_R = jax.random.split(jax.random.key(0), 6)
    padded_docs, padded_keys = pad_runs((docs_RxP, keys_R), 8)
    assert isinstance(padded_docs, np.ndarray)  # NumPy stays on the host
    assert padded_docs.shape == (8, 2) and (padded_docs[6:] == docs_RxP[5]).all()
    key_data = jax.random.key_data(padded_keys)
    assert padded_keys.shape == (8,) and (key_data[6:] == key_data[5]).all()
    docs, keys = unpad_runs((padded_docs, padded_keys), 6)
    np.testing.assert_array_equal(docs, docs_RxP)
    np.testing.assert_array_equal(jax.random.key_data(keys), jax.random.key_data(keys_R))


def test_padding_nothing_returns_the_same_arrays():
    docs_RxP = np.zeros((4, 2))
    assert pad_runs(docs_RxP, 4) is docs_RxP and unpad_runs(docs_RxP, 4) is docs_RxP
    with pytest.raises(ValueError):
        pad_runs(docs_RxP, 3)


def test_a_size_that_does_not_split_over_the_devices_is_refused_naming_the_field():
    check_divisible(8, mesh_of(4), "optim.batch_size")
    with pytest.raises(ValueError, match=r"optim.batch_size=6 must be a multiple of the 4 devices"):
        check_divisible(6, mesh_of(4), "optim.batch_size")


@pytest.fixture
def launcher_env(monkeypatch):
    """A clean environment, and the calls initialize_distributed makes to jax."""
    for variable in LAUNCHER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    calls = []
    monkeypatch.setattr(devices.jax.distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(devices.jax.distributed, "initialize", lambda **kwargs: calls.append(kwargs))
    return monkeypatch, calls


@pytest.mark.parametrize(
    "variables, multi_host",
    [
        ({}, False),
        ({"SLURM_NTASKS": "4"}, False),  # an sbatch script: one process, whatever it asked for
        ({"SLURM_NTASKS": "1", "SLURM_STEP_NUM_TASKS": "1"}, False),
        ({"SLURM_NTASKS": "4", "SLURM_STEP_NUM_TASKS": "4"}, True),  # srun
        ({"OMPI_COMM_WORLD_SIZE": "1"}, False),
        ({"OMPI_COMM_WORLD_SIZE": "2"}, True),
        ({"JAX_COORDINATOR_ADDRESS": "host:1234", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"}, True),
    ],
)
def test_multi_host_is_read_from_the_launcher_environment(launcher_env, variables, multi_host):
    monkeypatch, calls = launcher_env
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert multi_host_environment() == multi_host
    assert initialize_distributed() == multi_host
    assert len(calls) == int(multi_host)


def test_a_hand_set_multi_host_run_passes_its_process_count_and_id(launcher_env):
    monkeypatch, calls = launcher_env
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "host:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "3")
    monkeypatch.setenv("JAX_PROCESS_ID", "2")
    assert initialize_distributed()
    assert calls == [{"num_processes": 3, "process_id": 2}]


def test_a_hand_set_multi_host_run_without_its_process_id_is_refused(launcher_env):
    monkeypatch, calls = launcher_env
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "host:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "3")
    with pytest.raises(ValueError, match="JAX_PROCESS_ID"):
        initialize_distributed()
    assert calls == []
