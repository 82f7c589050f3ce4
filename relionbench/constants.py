"""Names shared by the configuration and the checks: features, extras, variants, tags."""

# Partition features (selection is by feature, never by partition name)
FEAT_CPU = 'cpu'
FEAT_GPU = 'gpu'
FEAT_AVX512 = 'avx512'
FEAT_APPTAINER = 'apptainer'
FEAT_SINGULARITY = 'singularity'

# Environment features: an environment that provides RELION (a build: relionbench.builds),
# and its accelerator
ENV_RELION = 'relion'
ENV_ALTCPU = 'altcpu'
ENV_CUDA = 'cuda'
ENV_VDAM = 'vdam'                   # gradient-driven classification (RELION 4.0 and later)

# Partition extras
X_CORES = 'cores_per_node'          # logical cores per node
X_GPUS = 'gpus_per_node'
X_MAX_NODES = 'max_nodes'           # nodes one job may use
X_MEM_GB = 'mem_per_node_gb'
X_DATA_ROOT = 'data_root'           # folder holding the datasets (one sub-folder each)
X_SCRATCH = 'scratch_root'          # node-local scratch for --scratch_dir ('' for none)
X_IMAGE_DIR = 'image_dir'           # folder of RELION container images
X_IMAGE_BINDS = 'image_binds'       # site paths every image gets at their own (e.g. PMIx's)
X_GPU_THREADS = 'gpu_threads_per_rank'
X_GPU_EMULATED = 'gpu_emulated'      # fake GPUs (CI): the gpu variant runs RELION on the CPU
X_CALIBRATE = 'calibrate_times'     # scale time references by this machine's calibration
X_LAUNCHER_OPTIONS = 'launcher_options'   # options every MPI launch gets (--mpi=pmix, ...)
X_EXCLUSIVE = 'exclusive'           # each stage's job asks whole nodes (fixtures never)

# Accelerator variants
GPU = 'gpu'
CPU_ALTCPU = 'cpu-altcpu'
CPU_PLAIN = 'cpu-plain'
VARIANTS = (GPU, CPU_ALTCPU, CPU_PLAIN)

# Features a partition needs for each variant, and those its build needs (the variant
# follows the build: --cpu only with accelerated CPU kernels, --gpu only with CUDA)
VARIANT_FEATURES = {
    GPU: f'+{FEAT_GPU}',
    CPU_ALTCPU: f'+{FEAT_CPU}',
    CPU_PLAIN: f'+{FEAT_CPU}',
}
VARIANT_BUILDS = {
    GPU: f'+{ENV_RELION} +{ENV_CUDA}',
    CPU_ALTCPU: f'+{ENV_RELION} +{ENV_ALTCPU}',
    CPU_PLAIN: f'+{ENV_RELION}',
}
NATIVE = 'native'                   # container_image value: RELION from PATH or modules

# Folder inside the stage directory that receives every RELION output
OUT = 'Bench'
# Folder inside the stage directory with per-step logs and records
STEPS_DIR = 'rb_steps'

# Perflog lines (config/common.py; read back by relionbench.results): these fields, then
# one group of PERFVAR_FIELDS per performance variable
PERFLOG_FIELDS = (
    'check_job_completion_time', 'check_display_name', 'check_system', 'check_partition',
    'check_environ', 'check_result', 'check_case', 'check_num_tasks', 'check_num_cpus_per_task',
    'check_relion_version', 'check_relion_build', 'check_relion_fft', 'check_relion_isa',
    'check_relion_cuda', 'check_container_image',
    'check_container_sha256', 'check_suite_commit', 'check_dataset_id',
    'check_reference_source', 'check_jobid',
)
PERFVAR_FIELDS = ('check_perf_var', 'check_perf_value', 'check_perf_unit', 'check_perf_ref',
                  'check_perf_lower_thres', 'check_perf_upper_thres', 'check_perf_result')
