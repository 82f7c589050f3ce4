"""SCARF (STFC): Xeon Gold 6126 CPU nodes (2 x 12 cores, HT, 192 GB, AVX-512) and GPU nodes.

The published runs used 23 tasks x 4 CPUs, --exclusive, in a Singularity container.
"""

from common import gpu_resources, relion_environment, system

from relionbench.constants import (
                                   FEAT_AVX512,
                                   FEAT_CPU,
                                   FEAT_GPU,
                                   FEAT_SINGULARITY,
                                   X_CORES,
                                   X_DATA_ROOT,
                                   X_GPUS,
                                   X_IMAGE_DIR,
                                   X_MAX_NODES,
                                   X_MEM_GB,
                                   X_SCRATCH,
)

DATA = '/work3/projects/sciml/relion'
IMAGES = '/work3/projects/sciml/relion/images'

system = system('scarf', 'STFC SCARF', [r'^ui\d+\.scarf', r'scarf\.rl\.ac\.uk'], [
    {
        'name': 'cpu',
        'descr': 'Xeon Gold 6126 nodes (scarf17)',
        'scheduler': 'slurm',
        'launcher': 'srun',
        'access': ['--partition=scarf', '--constraint=scarf17', '--exclusive'],
        'environs': ['relion'],
        'features': [FEAT_CPU, FEAT_AVX512, FEAT_SINGULARITY],
        'container_platforms': [{'type': 'Singularity'}],
        'max_jobs': 10,
        'extras': {X_CORES: 48, X_GPUS: 0, X_MAX_NODES: 4, X_MEM_GB: 192, X_DATA_ROOT: DATA,
                   X_SCRATCH: '', X_IMAGE_DIR: IMAGES},
    },
    {
        'name': 'gpu',
        'descr': 'GPU nodes, 4 GPUs each',
        'scheduler': 'slurm',
        'launcher': 'srun',
        'access': ['--partition=gpu', '--exclusive'],
        'environs': ['relion'],
        'features': [FEAT_GPU, FEAT_SINGULARITY],
        'container_platforms': [{'type': 'Singularity'}],
        'resources': gpu_resources(),
        'max_jobs': 4,
        'extras': {X_CORES: 32, X_GPUS: 4, X_MAX_NODES: 4, X_MEM_GB: 384, X_DATA_ROOT: DATA,
                   X_SCRATCH: '', X_IMAGE_DIR: IMAGES},
    },
])

environments = [relion_environment(['scarf'])]
