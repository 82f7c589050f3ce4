"""SCARF (STFC): Xeon Gold 6126 CPU nodes (2 x 12 cores, HT, 192 GB, AVX-512) and GPU nodes.

The published runs used 23 tasks x 4 CPUs, --exclusive, in a Singularity container.
Builds: the suite's three images (containers/) and a site module of RELION 5.0.1 with
accelerated CPU kernels (an example: name the modules the site has).
"""

from common import environments, names, slurm_partition, system

from relionbench import builds
from relionbench import constants as c

DATA = '/work3/projects/sciml/relion'
SITE = {c.X_DATA_ROOT: DATA, c.X_SCRATCH: '', c.X_IMAGE_DIR: f'{DATA}/images'}
GNU, AVX512, CUDA = builds.from_recipes(['relion-gnu', 'relion-avx512-intel', 'relion-cuda'])
MODULE = builds.Build('relion-5_0_1-altcpu', '5.0.1', builds.ALTCPU,
                      modules=('relion/5.0.1-altcpu',), descr='site module relion/5.0.1-altcpu')
CPU_BUILDS, GPU_BUILDS = (GNU, AVX512, MODULE), (CUDA,)

system = system('scarf', 'STFC SCARF', [r'^ui\d+\.scarf', r'scarf\.rl\.ac\.uk'], [
    slurm_partition('cpu', 'Xeon Gold 6126 nodes (scarf17)',
                    [c.FEAT_CPU, c.FEAT_AVX512, c.FEAT_SINGULARITY],
                    {c.X_CORES: 48, c.X_GPUS: 0, c.X_MAX_NODES: 4, c.X_MEM_GB: 192, **SITE},
                    names(CPU_BUILDS),
                    access=['--partition=scarf', '--constraint=scarf17'],
                    max_jobs=10),
    slurm_partition('gpu', 'GPU nodes, 4 GPUs each', [c.FEAT_GPU, c.FEAT_SINGULARITY],
                    {c.X_CORES: 32, c.X_GPUS: 4, c.X_MAX_NODES: 4, c.X_MEM_GB: 384, **SITE},
                    names(GPU_BUILDS), access=['--partition=gpu']),
])

environments = environments('scarf', CPU_BUILDS + GPU_BUILDS)
