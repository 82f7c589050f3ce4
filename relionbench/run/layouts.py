"""Published tuning rules: MPI layouts, threads, pool size, environment.

Sources: the published runs (seed 000: GPU runs in a "homogeneous + 1" layout, CPU
runs 23 tasks x 4 threads) and Intel's guide (seed 002: 8 compute ranks per node plus
one leader, --j = logical cores / ranks, --pool ~2 x --j and >= 30, OMP_SCHEDULE=dynamic,
KMP_BLOCKTIME=0).
"""

import math
from dataclasses import dataclass

from relionbench.constants import CPU_ALTCPU, GPU

PUBLISHED_GPU_RANKS = {1: 3, 2: 5, 4: 11, 8: 21, 16: 41}
"""MPI ranks per GPU count on PEARL: 2-2.5 ranks per GPU plus one leader."""

GPU_THREADS = 2            # PEARL: two CPUs per task
COMPUTE_RANKS_PER_NODE = 8
MIN_POOL = 30


@dataclass(frozen=True)
class Layout:
    """How one job is spread: MPI ranks, threads per rank, nodes and GPUs per node."""

    tasks: int
    threads: int
    nodes: int = 1
    gpus_per_node: int = 0
    pool: int = 0           #: relion_refine's --pool (0: the rule, ``pool``)

    @property
    def tasks_per_node(self):
        return math.ceil(self.tasks / self.nodes)


def gpu_ranks(num_gpus):
    """Ranks for ``num_gpus``: the published layout, else 2 per GPU plus the leader."""
    return PUBLISHED_GPU_RANKS.get(num_gpus, 2 * num_gpus + 1)


def gpu_layout(num_gpus, gpus_per_node, threads=GPU_THREADS):
    nodes = math.ceil(num_gpus / gpus_per_node)
    return Layout(gpu_ranks(num_gpus), threads, nodes, min(num_gpus, gpus_per_node))


def cpu_layout(scale, cores_per_node=None, max_nodes=1):
    """``'23x4'`` -> 23 ranks of 4 threads, spread over as many nodes (up to ``max_nodes``)
    as their cores need when each node has ``cores_per_node``."""
    try:
        tasks, threads = (int(n) for n in scale.lower().split('x'))
    except ValueError:
        raise ValueError(f'CPU scale {scale!r} must read TASKSxTHREADS, e.g. 23x4') from None
    nodes = math.ceil(tasks * threads / cores_per_node) if cores_per_node else 1
    return Layout(tasks, threads, max(1, min(nodes, max_nodes, tasks)))


def parse_trial(text):
    """``'3x1'`` or ``'1x2:60'`` (TASKSxTHREADS[:POOL]) -> (scale, pool; 0 for the rule)."""
    scale, _, size = text.partition(':')
    try:
        cpu_layout(scale)
        return scale, int(size) if size else 0
    except ValueError:
        raise ValueError(f'layout {text!r} must read TASKSxTHREADS or TASKSxTHREADS:POOL, '
                         'e.g. 3x1 or 1x2:60') from None


def intel_layout(cores_per_node, nodes=1):
    """Intel's rule: 8 compute ranks per node plus one leader, --j = cores / 8."""
    threads = max(1, cores_per_node // COMPUTE_RANKS_PER_NODE)
    return Layout(COMPUTE_RANKS_PER_NODE * nodes + 1, threads, nodes)


def pool(threads):
    """--pool: about twice the threads, never below 30."""
    return max(MIN_POOL, 2 * threads)


def accelerator_flags(variant):
    return {GPU: ['--gpu'], CPU_ALTCPU: ['--cpu']}.get(variant, [])


def refine_flags(variant, threads, scratch='', pool_size=0):
    """Options added to every relion_refine call (``pool_size``: 0 for the rule)."""
    flags = accelerator_flags(variant) + ['--j', str(threads),
                                          '--pool', str(pool_size or pool(threads)),
                                          '--dont_combine_weights_via_disc']
    return flags + (['--scratch_dir', scratch] if scratch else [])


def environment(variant):
    """Environment for a run; the OpenMP settings matter to the accelerated CPU kernels."""
    if variant == GPU:
        return {}
    return {'OMP_SCHEDULE': 'dynamic', 'KMP_BLOCKTIME': '0'}


IDLE_LEADERS = ('relion_refine_mpi',)
"""MPI programs whose rank 0 only hands out work: it runs no threads and needs no GPU."""


def step_threads(step, layout):
    """Threads each rank of ``step`` runs (``--j``): the layout's for a threaded step
    (relion_refine included; the suite's own Python steps never are)."""
    return layout.threads if step.threaded else 1


def misfit(step, layout, ranks, gpus=False):
    """Why a rank of ``step`` did not get the layout asked for ('' when each did): fewer
    CPUs it may run on than threads, or, where ``gpus``, no GPU in sight. ``ranks``: what
    each rank recorded (relionbench.run.records.Rank)."""
    threads = step_threads(step, layout)
    for r in ranks:
        if step.program in IDLE_LEADERS and r.rank == 0 and layout.tasks > 1:
            continue
        count = r.cpu_count
        if count is not None and count < threads:
            return (f'rank {r.rank} on {r.host} may run on {count} CPU{"s" * (count != 1)} '
                    f'({r.cpus}) but runs {threads} threads: its threads would share them. '
                    f'Bind it to {threads} (srun --cpus-per-task={threads}; mpirun --map-by '
                    f'slot:PE={threads} or --bind-to none), or run fewer threads '
                    '(-S run_layout)')
        if gpus and r.gpus == '-':
            return (f'rank {r.rank} on {r.host} sees no GPU (CUDA_VISIBLE_DEVICES unset): '
                    'ask the partition for GPUs (--gres=gpu:N) on every node of the job')
    return ''
