"""Any machine: local scheduler, mpirun. Used when no hostname matches.

Builds: every RELION this machine has (relionbench.builds: the one on PATH, the prefixes in
RELIONBENCH_RELION, /opt/relion-*), each identified from what it prints.
"""

import os

from common import RUNS, environments, names, podman_runtime, system

from relionbench import builds
from relionbench.constants import (
    ENV_RELION,
    X_CALIBRATE,
    X_CORES,
    X_DATA_ROOT,
    X_GPUS,
    X_MAX_NODES,
    X_SCRATCH,
)
from relionbench.machine import hostinfo

PLATFORMS, PODMAN = podman_runtime()
BUILDS = builds.discover() or [builds.Build(ENV_RELION, descr='no RELION found: the checks '
                                            'fail until one is on PATH or in RELIONBENCH_RELION')]

system = system('local', 'This machine (embedded default)', ['.*'], [{
    'name': 'default',
    'descr': 'Local processes, MPI through mpirun',
    'scheduler': 'local',
    'launcher': 'mpirun',
    'environs': names(BUILDS),
    'features': hostinfo.local_features() + PODMAN,
    'container_platforms': PLATFORMS,
    'max_jobs': 1,
    'env_vars': [
        # Open MPI refuses root and more ranks than cores unless told: CI runs as root
        ['OMPI_ALLOW_RUN_AS_ROOT', '1'],
        ['OMPI_ALLOW_RUN_AS_ROOT_CONFIRM', '1'],
        ['OMPI_MCA_rmaps_base_oversubscribe', '1'],
    ],
    'extras': {
        X_CORES: hostinfo.cores(),
        X_GPUS: hostinfo.nvidia_gpus(),
        X_MAX_NODES: 1,
        X_DATA_ROOT: os.environ.get('RELIONBENCH_DATA', f'{RUNS}/data'),
        X_SCRATCH: os.environ.get('RELIONBENCH_SCRATCH', ''),   # --scratch_dir, if given
        X_CALIBRATE: True,      # times judged against this machine (machine.calibration)
    },
}])

environments = environments('local', BUILDS)
