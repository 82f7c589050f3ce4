"""PEARL: two NVIDIA DGX-2, 16 V100 (32 GB) and 96 logical cores, 1.5 TB RAM each.

Published runs: 1-16 GPUs on one node, 2-2.5 ranks per GPU plus a leader, 2 CPUs per task.
"""

from common import gpu_resources, relion_environment, system

from relionbench.constants import (
                                   FEAT_GPU,
                                   FEAT_SINGULARITY,
                                   X_CORES,
                                   X_DATA_ROOT,
                                   X_GPU_THREADS,
                                   X_GPUS,
                                   X_IMAGE_DIR,
                                   X_MAX_NODES,
                                   X_MEM_GB,
                                   X_SCRATCH,
)

DATA = '/mnt/beegfs/work/stfc/relion-data'

system = system('pearl', 'PEARL (2 x DGX-2)', [r'pearl'], [{
    'name': 'dgx2',
    'descr': 'DGX-2 nodes, 16 x V100',
    'scheduler': 'slurm',
    'launcher': 'srun',
    'access': ['--exclusive'],
    'environs': ['relion'],
    'features': [FEAT_GPU, FEAT_SINGULARITY],
    'container_platforms': [{'type': 'Singularity'}],
    'resources': gpu_resources(),
    'max_jobs': 2,
    'extras': {X_CORES: 96, X_GPUS: 16, X_MAX_NODES: 2, X_MEM_GB: 1536, X_GPU_THREADS: 2,
               X_DATA_ROOT: DATA, X_SCRATCH: '/raid/scratch/$SLURM_JOB_ID',
               X_IMAGE_DIR: f'{DATA}/images'},
}])

environments = [relion_environment(['pearl'])]
