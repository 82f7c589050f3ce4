"""The Slurm pseudo-cluster of scripts/slurm-pseudo-cluster: as many nodes as it was brought
up with (``up --nodes N``; its state folder says how many), each with this machine's cores.

Never chosen by hostname: select it with ``--system ci-slurm``. Partition ``cpu`` launches
MPI with srun (PMIx), ``cpu-mpirun`` with mpirun inside the same Slurm partition, and
``gpu`` requests the fake GPU GRES and runs RELION on the CPU (no ``--gpu``). Builds: those
of this machine (relionbench.builds), each declared a CUDA build on the emulated GPUs too.
Images run with podman where it is installed (one container per node of the job).
A stage whose ranks and threads need more cores than a node has spreads over the nodes.
Each node has this machine's CPUs, bound by Slurm, and its own scratch folder
(``scratch_root``, default ``<state>/scratch/$SLURM_JOB_ID`` on several nodes); the gpu
partition's jobs ask ``--overcommit`` (a GPU layout needs more CPUs than a node has).

Brought up ``--like SYSTEM``, its partitions are that system's instead: the same names,
access options (``--partition``, ``--constraint``, ``--exclusive``) and declared cores, GPUs
and nodes, with this machine's builds, so a stage runs through that site's job options.
"""

import os
from pathlib import Path

from common import RUNS, environments, names, podman_runtime, system

from relionbench import builds
from relionbench import constants as c
from relionbench.machine import clustershape

ROOT_MPI = [    # the pseudo-cluster runs jobs as root; Open MPI refuses root unless told
    ['OMPI_ALLOW_RUN_AS_ROOT', '1'],
    ['OMPI_ALLOW_RUN_AS_ROOT_CONFIRM', '1'],
    ['OMPI_MCA_rmaps_base_oversubscribe', '1'],
]
STATE = Path(os.environ.get('RELIONBENCH_SLURM_DIR', '/tmp/relionbench-slurm'))
SPOOL = f'{STATE}/spool'


def _nodes():
    """How many nodes the pseudo-cluster was brought up with (1 when it is not up)."""
    try:
        return max(1, int((STATE / 'nodes').read_text()))
    except (OSError, ValueError):
        return 1


NODES = _nodes()
LIKE = (STATE / 'like').read_text().strip() if (STATE / 'like').is_file() else ''
MIRRORED = (c.X_CORES, c.X_GPUS, c.X_MAX_NODES, c.X_MEM_GB, c.X_GPU_THREADS, c.X_EXCLUSIVE,
            c.X_LAUNCHER_OPTIONS)
"""The extras a --like partition takes from the system it mirrors: what shapes its layouts
and its jobs' options."""
# node-local scratch: each node of a multi-node cluster has its own folder at this path
NODE_SCRATCH = f'{STATE}/scratch/$SLURM_JOB_ID' if NODES > 1 and not LIKE else ''
EXTRAS = {c.X_CORES: os.cpu_count() or 1, c.X_GPUS: 0, c.X_MAX_NODES: NODES, c.X_MEM_GB: 16,
          c.X_DATA_ROOT: f'{RUNS}/data',
          c.X_SCRATCH: os.environ.get('RELIONBENCH_SCRATCH', NODE_SCRATCH),
          # srun's PMIx server keeps each step's files in slurmd's spool: ranks in an image
          # must see them
          c.X_IMAGE_BINDS: [SPOOL]}


BUILDS = builds.discover() or [builds.Build(c.ENV_RELION)]
PLATFORMS, PODMAN = podman_runtime()
GPU_BUILDS = [builds.emulated_gpu(b) for b in BUILDS]


def partition(name, descr, access, launcher, features, **extras):
    entry = {
        'name': name,
        'descr': descr,
        'scheduler': 'slurm',
        'launcher': launcher,
        'access': list(access),
        'environs': names(GPU_BUILDS if c.FEAT_GPU in features else BUILDS),
        'features': features + PODMAN,
        'container_platforms': PLATFORMS,
        'max_jobs': 2,
        'env_vars': ROOT_MPI,
        'extras': {**EXTRAS, **extras},
    }
    if c.FEAT_GPU in features:
        entry['resources'] = [{'name': 'gpu', 'options': ['--gres=gpu:{num_gpus_per_node}']}]
    return entry


def mirrored(like, part):
    """ci-slurm's partition for partition ``part`` of system ``like``."""
    features = [f for f in part['features'] if f not in (c.FEAT_APPTAINER, c.FEAT_SINGULARITY)]
    extras = {k: v for k, v in part['extras'].items() if k in MIRRORED}
    if c.FEAT_GPU in features:
        extras[c.X_GPU_EMULATED] = True
    return partition(part['name'], f'like {like}: {part["descr"]}', part.get('access', []),
                     'srun', features, **extras)


PARTITIONS = [
    partition('cpu', 'Slurm partition cpu, MPI through srun', ['--partition=cpu'], 'srun',
              [c.FEAT_CPU]),
    partition('cpu-mpirun', 'Slurm partition cpu, MPI through mpirun', ['--partition=cpu'],
              'mpirun', [c.FEAT_CPU]),
    # a GPU layout (3 ranks of 2 threads on a node) needs more CPUs than a node has here:
    # the job overcommits its node's CPUs (every rank may run on all of them)
    partition('gpu', 'Slurm partition gpu: fake GPUs, RELION on the CPU',
              ['--partition=gpu', '--overcommit'], 'srun', [c.FEAT_GPU],
              **{c.X_GPUS: 4, c.X_GPU_EMULATED: True}),
]
if LIKE:
    PARTITIONS = [mirrored(LIKE, p) for p in clustershape.system_module(LIKE).system['partitions']
                  if p.get('scheduler') == 'slurm']

system = system('ci-slurm', 'Slurm pseudo-cluster (scripts/slurm-pseudo-cluster)'
                + (f', shaped like {LIKE}' if LIKE else ''), [], PARTITIONS)

environments = environments('ci-slurm', BUILDS + GPU_BUILDS)
