"""Intel Ice Lake test nodes (2 x Xeon Platinum 8358, 128 logical cores, 256 GB, AVX-512)."""

from common import relion_environment, system

from relionbench.constants import (
                                   FEAT_AVX512,
                                   FEAT_CPU,
                                   FEAT_SINGULARITY,
                                   X_CORES,
                                   X_DATA_ROOT,
                                   X_GPUS,
                                   X_IMAGE_DIR,
                                   X_MAX_NODES,
                                   X_MEM_GB,
                                   X_SCRATCH,
)

DATA = '/home/shared/relion-data'

system = system('icx', 'Intel Ice Lake test system', [r'^icx'], [{
    'name': 'cpu',
    'descr': 'Ice Lake nodes',
    'scheduler': 'slurm',
    'launcher': 'srun',
    'access': ['--exclusive'],
    'environs': ['relion'],
    'features': [FEAT_CPU, FEAT_AVX512, FEAT_SINGULARITY],
    'container_platforms': [{'type': 'Singularity'}],
    'max_jobs': 4,
    'extras': {X_CORES: 128, X_GPUS: 0, X_MAX_NODES: 4, X_MEM_GB: 256, X_DATA_ROOT: DATA,
               X_SCRATCH: '/tmp', X_IMAGE_DIR: f'{DATA}/images'},
}])

environments = [relion_environment(['icx'])]
