"""SCARF (STFC): Xeon Gold 6126 CPU nodes (2 x 12 cores, HT, 192 GB, AVX-512) and GPU nodes.

The published runs used 23 tasks x 4 CPUs, --exclusive, in a Singularity container.
"""

from common import relion_environment, slurm_partition, system

from relionbench import constants as c

DATA = '/work3/projects/sciml/relion'
SITE = {c.X_DATA_ROOT: DATA, c.X_SCRATCH: '', c.X_IMAGE_DIR: f'{DATA}/images'}

system = system('scarf', 'STFC SCARF', [r'^ui\d+\.scarf', r'scarf\.rl\.ac\.uk'], [
    slurm_partition('cpu', 'Xeon Gold 6126 nodes (scarf17)',
                    [c.FEAT_CPU, c.FEAT_AVX512, c.FEAT_SINGULARITY],
                    {c.X_CORES: 48, c.X_GPUS: 0, c.X_MAX_NODES: 4, c.X_MEM_GB: 192, **SITE},
                    access=['--partition=scarf', '--constraint=scarf17', '--exclusive'],
                    max_jobs=10),
    slurm_partition('gpu', 'GPU nodes, 4 GPUs each', [c.FEAT_GPU, c.FEAT_SINGULARITY],
                    {c.X_CORES: 32, c.X_GPUS: 4, c.X_MAX_NODES: 4, c.X_MEM_GB: 384, **SITE},
                    access=['--partition=gpu', '--exclusive']),
])

environments = [relion_environment(['scarf'])]
