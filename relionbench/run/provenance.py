"""Provenance logged with every result: RELION version and build, image, suite commit."""

import functools
import hashlib
import subprocess
from pathlib import Path

from relionbench import ROOT

UNKNOWN = 'unknown'


@functools.cache
def suite_commit():
    """The suite's git commit (with ``-dirty`` for local changes), or 'unknown'."""
    try:
        commit = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short=12', 'HEAD'],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', str(ROOT), 'status', '--porcelain',
                                '--untracked-files=no'],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return UNKNOWN
    return f'{commit}-dirty' if dirty else commit


@functools.cache
def _sha256(path, size, mtime):
    digest = hashlib.sha256()
    with open(path, 'rb') as image:
        for block in iter(lambda: image.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def image_sha256(path):
    """sha256 of a container image file ('' when there is no image or it is absent)."""
    path = Path(path) if path else None
    if not path or not path.is_file():
        return ''
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime)
