"""PEARL: two NVIDIA DGX-2, 16 V100 (32 GB) and 96 logical cores, 1.5 TB RAM each.

Published runs: 1-16 GPUs on one node, 2-2.5 ranks per GPU plus a leader, 2 CPUs per task.
Builds: the CUDA image (containers/relion-cuda.def) under Apptainer.
"""

from common import environments, names, slurm_partition, system

from relionbench import builds
from relionbench import constants as c

DATA = '/mnt/beegfs/work/stfc/relion-data'
BUILDS = builds.from_recipes(['relion-cuda'])

system = system('pearl', 'PEARL (2 x DGX-2)', [r'pearl'], [
    slurm_partition('dgx2', 'DGX-2 nodes, 16 x V100', [c.FEAT_GPU, c.FEAT_APPTAINER],
                    {c.X_CORES: 96, c.X_GPUS: 16, c.X_MAX_NODES: 2, c.X_MEM_GB: 1536,
                     c.X_GPU_THREADS: 2, c.X_DATA_ROOT: DATA, c.X_IMAGE_DIR: f'{DATA}/images',
                     c.X_SCRATCH: '/raid/scratch/$SLURM_JOB_ID'},
                    names(BUILDS), max_jobs=2),
])

environments = environments('pearl', BUILDS)
