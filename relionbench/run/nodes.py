"""What a job does on every node it holds, before its first step and after its last.

A compute node sees only what a shared filesystem gives it. So the job first checks on each
node that it can read the suite's own files and the stage folder, and fails with one line
naming the node if it cannot. It then creates the scratch folder on each node (node-local
scratch exists only where it is made), and removes it when the script ends, a failed step
included; a folder that was already there (``/tmp``, a site's scratch) is left as it is.
A job Slurm ends (time limit, scancel) cannot run its own cleanup: sites clean node-local
scratch with a per-job ``job_container/tmpfs`` or their epilog.
"""

import shlex
import sys

from relionbench import ROOT
from relionbench.constants import STEPS_DIR

ERRORS = f'{STEPS_DIR}/nodes.err'
"""What the per-node preparation printed (the batch node reads it back for the check)."""

MARK = '[relionbench] '
"""How a refusal line from a node begins."""


def visible(files=(), stagedir=''):
    """A shell test, run on a node, that fails with one line when the node cannot see the
    suite's Python, its other ``files`` or the stage folder."""
    node = '$(hostname)'
    readable = ' && '.join(f'[ -r {shlex.quote(str(p))} ]' for p in (sys.executable, *files))
    tests = [f'{readable} || {{ echo "{MARK}the suite at {ROOT} is not visible on node {node}: '
             'put the checkout on a shared filesystem" >&2; exit 1; }']
    if stagedir:
        tests.append(f'[ -w {shlex.quote(stagedir)} ] || {{ echo "{MARK}the stage folder '
                     f'{stagedir} is not visible on node {node}: put the runs folder '
                     f'(RELIONBENCH_RUNS) on a shared filesystem" >&2; exit 1; }}')
    return '; '.join(tests)


def on_every_node(slurm, launcher_options=()):
    """``rb_nodes CMD...``: CMD once on each node of the job (through srun on Slurm, here
    otherwise)."""
    if not slurm:
        return 'rb_nodes() { "$@"; }'
    options = ' '.join(shlex.quote(o) for o in launcher_options)
    return ('rb_nodes() { srun --nodes="$SLURM_JOB_NUM_NODES" --ntasks="$SLURM_JOB_NUM_NODES" '
            f'--ntasks-per-node=1 --cpus-per-task=1 --kill-on-bad-exit=1{" " * bool(options)}'
            f'{options} "$@"; }}')


DRIVERS = {'11': 450, '12': 525, '13': 580}
"""The oldest NVIDIA driver (its major version) that runs code of each CUDA major release
(NVIDIA's CUDA toolkit release notes: minor version compatibility)."""


def usable_gpu(cuda=''):
    """A shell test, run on a node, that fails with one line naming the node when it has no
    usable NVIDIA GPU: no device, no driver, or a driver older than ``cuda`` (the build's
    CUDA release, '13.0') needs."""
    node = '$(hostname)'
    tests = [f'ls /dev/nvidia[0-9]* >/dev/null 2>&1 || {{ echo "{MARK}node {node} has no '
             'NVIDIA GPU (no /dev/nvidia0): run the gpu cases on a partition with GPUs" >&2; '
             'exit 1; }',
             f'command -v nvidia-smi >/dev/null || {{ echo "{MARK}node {node} has no NVIDIA '
             'driver (nvidia-smi not found): install the driver" >&2; exit 1; }']
    need = DRIVERS.get(cuda.split('.')[0])
    if need:
        tests.append('v=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1 | '
                     f'head -n 1); [ "${{v%%.*}}" -ge {need} ] 2>/dev/null || {{ echo "{MARK}'
                     f'node {node} has NVIDIA driver $v; the build\'s CUDA {cuda} needs {need} '
                     'or later" >&2; exit 1; }')
    return '; '.join(tests)


def prepare(files, stagedir, slurm, scratch=False, launcher_options=(), gpu=None):
    """Lines after the stage folder's own folders exist: every node checked for the suite's
    ``files`` and the stage folder (and for a usable GPU, ``gpu`` being the build's CUDA
    release), scratch made on each, and removed at the end."""
    work = visible(files, stagedir) + (f'; {usable_gpu(gpu)}' if gpu is not None else '')
    work += f'; {MAKE_SCRATCH}' if scratch else ''
    # the removal first: a node that fails its check leaves the others' scratch made
    remove = [f'rb_scratch_gone() {{ rb_nodes sh -c {shlex.quote(REMOVE_SCRATCH)}; }}',
              'rb_at_exit rb_scratch_gone'] if scratch else []
    return [AT_EXIT, on_every_node(slurm, launcher_options), *remove,
            f'rb_nodes sh -c {shlex.quote(work)} 2>{ERRORS} || {{ cat {ERRORS} >&2; exit 1; }}']


AT_EXIT = 'rb_at_exit() { RB_AT_EXIT="$1; ${RB_AT_EXIT:-}"; trap "$RB_AT_EXIT" EXIT; }'
"""``rb_at_exit CMD``: CMD runs when the script ends, before what was registered earlier."""


MADE = '.made-by-relionbench'
MAKE_SCRATCH = (f'[ -d "$RB_SCRATCH" ] || '
                f'{{ mkdir -p "$RB_SCRATCH" && touch "$RB_SCRATCH/{MADE}"; }}')
"""The job's scratch folder, made where it is not (a folder that was there is the site's)."""
REMOVE_SCRATCH = f'[ ! -e "$RB_SCRATCH/{MADE}" ] || rm -rf "$RB_SCRATCH"'
"""Removed only where this job made it: never a folder the site named that was there."""


def refusal(text):
    """The first refusal line a node printed ('' when none)."""
    return next((line[len(MARK):] for line in text.splitlines() if line.startswith(MARK)
                 and (' not visible on node ' in line or line.startswith(f'{MARK}node '))),
                '')
