"""Spreading work over every visible device: one CPU, one GPU, several, or several hosts.

All devices form one 1-D mesh with the axis `DEVICES`. Two things are split along it:

- the runs axis of batched runs (the leading axis of `params_R`, `docs_RxPxT`, ...):
  runs are independent, so each device trains its share with no communication.
  Any number of runs works: `pad_runs` appends copies of the last run up to a
  multiple of the device count, `unpad_runs` drops them after.
- the data batch axis of a single run (pretraining): each device computes the
  gradient of its share of the batch and XLA sums them.

Everything else (a single run's parameters, the optimizer state) is replicated.
With one device every sharding here is trivial, so the same code runs unchanged
on a laptop, one GPU, or many; `XLA_FLAGS=--xla_force_host_platform_device_count=4`
fakes four CPU devices to test it.

Multi-host: every process runs the same program on the same inputs (all data here
is drawn from seeds, so it is) and `jax.device_put` takes each process's share.
Call `initialize_distributed()` first, before anything touches a device.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

DEVICES = "devices"  # the name of the mesh's one axis


def device_mesh() -> Mesh:
    """A 1-D mesh over all devices of all processes."""
    # Auto axes: XLA propagates the shardings we place at the boundaries through
    # the program (make_mesh's default, Explicit, would make them part of every type).
    return jax.make_mesh((jax.device_count(),), (DEVICES,), axis_types=(AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def runs_sharding(mesh: Mesh) -> NamedSharding:
    """The leading (runs) axis split across devices, the other axes whole."""
    return NamedSharding(mesh, PartitionSpec(DEVICES))


def batch_sharding(mesh: Mesh, axis: int) -> NamedSharding:
    """Axis `axis` (a data batch axis) split across devices, the other axes whole."""
    return NamedSharding(mesh, PartitionSpec(*[None] * axis, DEVICES))


def padded_runs(runs: int, mesh: Mesh) -> int:
    """`runs` rounded up to a multiple of the number of devices."""
    return -(-runs // mesh.size) * mesh.size


def pad_runs(tree, runs: int):
    """Every leaf's leading axis extended to `runs` with copies of its last row.

    The copies are real runs (of the last run's inputs), so they compute nothing
    undefined; `unpad_runs` drops their results. NumPy leaves stay NumPy (no
    device work); JAX leaves, PRNG keys included, are padded with jnp.
    """

    def pad(x):
        extra = runs - x.shape[0]
        if extra < 0:
            raise ValueError(f"cannot pad {x.shape[0]} runs down to {runs}")
        if extra == 0:
            return x
        xp = np if isinstance(x, np.ndarray) else jnp
        return xp.concatenate([x, xp.repeat(x[-1:], extra, axis=0)])

    return jax.tree.map(pad, tree)


def unpad_runs(tree, runs: int):
    """The first `runs` rows of every leaf: the results of the real runs."""
    return jax.tree.map(lambda x: x if x.shape[0] == runs else x[:runs], tree)


def check_divisible(size: int, mesh: Mesh, field: str) -> None:
    """Raise, naming `field`, unless `size` splits evenly across the devices."""
    if size % mesh.size:
        raise ValueError(
            f"{field}={size} must be a multiple of the {mesh.size} devices it is split across; "
            f"choose a multiple of {mesh.size}, or make fewer devices visible "
            "(e.g. CUDA_VISIBLE_DEVICES, or XLA_FLAGS=--xla_force_host_platform_device_count on CPU)"
        )


# How many processes make up the run, as set by hand, by srun, and by Open MPI's mpirun.
_PROCESS_COUNT_VARIABLES = ("JAX_NUM_PROCESSES", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE")


def multi_host_environment() -> bool:
    """Whether this process is one of several that together make up one run.

    Several processes means one of:
    - `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES` > 1 and `JAX_PROCESS_ID` set by hand
      (any launcher);
    - `SLURM_STEP_NUM_TASKS` > 1 (a job step launched by srun; jax also reads SLURM_JOB_ID,
      SLURM_STEP_NODELIST, SLURM_NTASKS, SLURM_PROCID, SLURM_LOCALID). Not `SLURM_NTASKS`:
      an sbatch script sees it too, but runs as one process;
    - `OMPI_COMM_WORLD_SIZE` > 1 (Open MPI's mpirun; jax also reads OMPI_MCA_orte_hnp_uri
      and OMPI_COMM_WORLD_RANK / _LOCAL_RANK).
    A single-task Slurm or MPI job is not multi-host: it needs no coordinator.
    """
    counts = [int(os.environ[v]) for v in _PROCESS_COUNT_VARIABLES if os.environ.get(v, "").strip()]
    return any(n > 1 for n in counts)


def initialize_distributed() -> bool:
    """Join the other processes of a multi-host run; a no-op on a single host.

    Must run before anything touches a device (it fixes which devices exist).
    Returns whether it initialized. See `multi_host_environment` for what counts
    as multi-host; jax reads the addresses and ranks from the same variables.
    """
    if not multi_host_environment() or jax.distributed.is_initialized():
        return False
    if os.environ.get("JAX_NUM_PROCESSES", "").strip():
        # jax reads only the coordinator's address from the environment, not these two.
        missing = [v for v in ("JAX_COORDINATOR_ADDRESS", "JAX_PROCESS_ID") if not os.environ.get(v, "").strip()]
        if missing:
            raise ValueError(
                f"JAX_NUM_PROCESSES={os.environ['JAX_NUM_PROCESSES']} asks for a multi-host run, but "
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; set "
                "JAX_COORDINATOR_ADDRESS=host:port (process 0's) and JAX_PROCESS_ID (0 .. JAX_NUM_PROCESSES-1)"
            )
        jax.distributed.initialize(
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]), process_id=int(os.environ["JAX_PROCESS_ID"])
        )
    else:
        jax.distributed.initialize()  # Slurm / Open MPI: jax detects the cluster itself
    return True
