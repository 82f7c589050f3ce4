"""Intel Cascade Lake test nodes (2 x Xeon Platinum 8260M, 96 logical cores, AVX-512).

Builds: the plain GCC image against the AVX-512 Intel image (containers/)."""

from common import environments, names, slurm_partition, system

from relionbench import builds
from relionbench import constants as c

DATA = '/home/shared/relion-data'
BUILDS = builds.from_recipes(['relion-gnu', 'relion-avx512-intel'])

system = system('clx', 'Intel Cascade Lake test system', [r'^clx', r'nextgenio'], [
    slurm_partition('cpu', 'Cascade Lake nodes', [c.FEAT_CPU, c.FEAT_AVX512, c.FEAT_SINGULARITY],
                    {c.X_CORES: 96, c.X_GPUS: 0, c.X_MAX_NODES: 4, c.X_MEM_GB: 192,
                     c.X_DATA_ROOT: DATA, c.X_SCRATCH: '/tmp', c.X_IMAGE_DIR: f'{DATA}/images'},
                    names(BUILDS)),
])

environments = environments('clx', BUILDS)
