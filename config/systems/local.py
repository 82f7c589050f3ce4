"""Any machine: RELION from PATH, local scheduler, mpirun. Used when no hostname matches."""

import os

from common import RUNS, relion_environment, system

from relionbench import hostinfo
from relionbench.constants import (
    X_CALIBRATE,
    X_CORES,
    X_DATA_ROOT,
    X_GPUS,
    X_MAX_NODES,
    X_SCRATCH,
)

system = system('local', 'This machine (embedded default)', ['.*'], [{
    'name': 'default',
    'descr': 'Local processes, MPI through mpirun',
    'scheduler': 'local',
    'launcher': 'mpirun',
    'environs': ['relion'],
    'features': hostinfo.local_features(),
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
        X_SCRATCH: '',
        X_CALIBRATE: True,      # times judged against this machine (relionbench.calibration)
    },
}])

environments = [relion_environment(['local'])]
