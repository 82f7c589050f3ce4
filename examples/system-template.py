"""MYSITE: copy this file to config/systems/mysite.py, fill in what your site has, then run
``relionbench validate --system mysite`` and ``reframe -c checks/ -R --dry-run --system
mysite`` (docs/site.md walks through each part).

Every name used here is from config/common.py and relionbench/builds; nothing else needs
reading."""

from common import environments, names, slurm_partition, system

from relionbench import builds
from relionbench import constants as c

# -- where things are on the compute nodes (a shared filesystem: docs/site.md, "What the
#    suite needs of a cluster") ----------------------------------------------------------
DATA = '/shared/relion-data'               # one folder per dataset id (empiar-10338, ...)
SITE = {
    c.X_DATA_ROOT: DATA,
    c.X_SCRATCH: '/local/scratch/$SLURM_JOB_ID',  # node-local --scratch_dir ('' for none)
    c.X_IMAGE_DIR: f'{DATA}/images',              # where the .sif images are
}

# -- the builds to compare -----------------------------------------------------------------
# from a module the site provides (name it as `module avail` shows it):
MODULE = builds.Build('relion-5_0_1-altcpu', '5.0.1', builds.ALTCPU,
                      modules=('relion/5.0.1-altcpu',), descr='site module relion/5.0.1')
# from an install prefix on a shared filesystem:
PREFIX = builds.Build('relion-5_0_1-cuda', '5.0.1', builds.CUDA,
                      prefix='/shared/apps/relion-5.0.1-cuda', descr='our CUDA build')
# from the suite's container recipes (relionbench containers build NAME --out IMAGE_DIR):
GNU, = builds.from_recipes(['relion-gnu'])
CPU_BUILDS, GPU_BUILDS = (GNU, MODULE), (PREFIX,)

system = system('mysite', 'My site', [r'^login\d+\.mysite\.example'], [
    slurm_partition(
        'cpu', 'CPU nodes, 2 x 32 cores, AVX-512',
        [c.FEAT_CPU, c.FEAT_AVX512, c.FEAT_APPTAINER],   # what the nodes offer
        {c.X_CORES: 64, c.X_GPUS: 0, c.X_MAX_NODES: 4, c.X_MEM_GB: 256, **SITE},
        names(CPU_BUILDS),
        access=['--partition=cpu', '--account=cryoem'],  # every job's sbatch options
        launcher_options=['--mpi=pmix'],                 # every srun's options
        env_vars={'OMPI_MCA_btl': '^openib'}),           # every job's environment
    slurm_partition(
        'gpu', 'GPU nodes, 4 x A100 each',
        [c.FEAT_GPU, c.FEAT_APPTAINER],
        {c.X_CORES: 64, c.X_GPUS: 4, c.X_MAX_NODES: 2, c.X_MEM_GB: 512, **SITE},
        names(GPU_BUILDS), access=['--partition=gpu', '--account=cryoem'], max_jobs=2,
        launcher_options=['--mpi=pmix']),
])

environments = environments('mysite', CPU_BUILDS + GPU_BUILDS)
