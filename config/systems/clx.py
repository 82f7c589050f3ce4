"""Intel Cascade Lake test nodes (2 x Xeon Platinum 8260M, 96 logical cores, AVX-512)."""

from common import relion_environment, slurm_partition, system

from relionbench import constants as c

DATA = '/home/shared/relion-data'

system = system('clx', 'Intel Cascade Lake test system', [r'^clx', r'nextgenio'], [
    slurm_partition('cpu', 'Cascade Lake nodes', [c.FEAT_CPU, c.FEAT_AVX512, c.FEAT_SINGULARITY],
                    {c.X_CORES: 96, c.X_GPUS: 0, c.X_MAX_NODES: 4, c.X_MEM_GB: 192,
                     c.X_DATA_ROOT: DATA, c.X_SCRATCH: '/tmp', c.X_IMAGE_DIR: f'{DATA}/images'}),
])

environments = [relion_environment(['clx'])]
