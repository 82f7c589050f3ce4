"""What this machine's hardware offers, for the ``local`` system's features and extras (its
RELION builds: relionbench.builds)."""

import os
import shutil
import subprocess

from relionbench.constants import FEAT_APPTAINER, FEAT_AVX512, FEAT_CPU, FEAT_GPU, FEAT_SINGULARITY


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
    """What this machine's hardware offers: avx512 where the CPU has avx512f, gpu where an
    NVIDIA GPU is visible (which builds can use them is the builds' business)."""
    features = [FEAT_CPU]
    if 'avx512f' in cpu_flags():
        features.append(FEAT_AVX512)
    if nvidia_gpus():
        features.append(FEAT_GPU)
    features += [rt for rt in (FEAT_APPTAINER, FEAT_SINGULARITY) if shutil.which(rt)]
    return features


def cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
