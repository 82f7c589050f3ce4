"""What this machine and its RELION can do, for the ``local`` system's features."""

import functools
import os
import shutil
import subprocess

from relionbench import provenance
from relionbench.constants import FEAT_APPTAINER, FEAT_AVX512, FEAT_CPU, FEAT_GPU, FEAT_SINGULARITY


@functools.cache
def relion_build():
    """(version, build) of the relion_refine on PATH, ('', '') when there is none."""
    exe = shutil.which('relion_refine')
    if not exe:
        return '', ''
    try:
        out = subprocess.run([exe, '--version'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return '', ''
    return provenance.relion_build(out.stdout + out.stderr)


def cpu_flags():
    try:
        with open('/proc/cpuinfo') as info:
            return set(next((line for line in info if line.startswith('flags')), '').split())
    except OSError:
        return set()


def nvidia_gpus():
    if not shutil.which('nvidia-smi'):
        return 0
    try:
        out = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith('GPU ') for line in out.stdout.splitlines())


def local_features():
    """Features this machine can honour: avx512 only with accelerated CPU kernels in RELION,
    gpu only with a CUDA RELION and a visible NVIDIA GPU."""
    build = relion_build()[1]
    features = [FEAT_CPU]
    if build == 'ALTCPU' and 'avx512f' in cpu_flags():
        features.append(FEAT_AVX512)
    if build == 'CUDA' and nvidia_gpus():
        features.append(FEAT_GPU)
    features += [rt for rt in (FEAT_APPTAINER, FEAT_SINGULARITY) if shutil.which(rt)]
    return features


def cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
