"""Is a finished download the right file: its size, then its sha256 or md5 (hashlib)."""

import hashlib

from relionbench.data.fetch.errors import FetchError
from relionbench.data.fetch.progress import file_size, human, log

CHUNK = 8 << 20                 # bytes per read while hashing
ANNOUNCE_BYTES = 1 << 30        # say so before hashing a file this big


def expected_digest(remote):
    """(algorithm, hex digest) the file must have, or (None, None) when none is known."""
    if remote.sha256:
        return 'sha256', remote.sha256.lower()
    if remote.md5:
        return 'md5', remote.md5.lower()
    return None, None


def digest(path, algo):
    """The hex ``algo`` digest of the file at ``path``."""
    hasher = hashlib.new(algo, usedforsecurity=False)
    with path.open('rb') as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def check(part, remote, expected_size):
    """Check size and digest of a finished .part; delete it on a checksum mismatch.

    Returns how it was checked, for the ``ok`` line.
    """
    name = remote.path.name
    size = file_size(part)
    if expected_size is not None and size != expected_size:
        raise FetchError(f'{name}: got {size} bytes, expected {expected_size}; re-run to resume')
    algo, want = expected_digest(remote)
    if not algo:
        return f'size {human(size)} ok, no checksum known' if expected_size is not None \
            else 'unverified: server sent no size and no checksum is known'
    if size >= ANNOUNCE_BYTES:
        log(f'  {name}: checking its {algo} ({human(size)})')
    got = digest(part, algo)
    if got != want:
        part.unlink()
        raise FetchError(f'checksum mismatch for {name}: expected {algo} {want}, got {got}; '
                         f'the partial file was deleted, re-run to download it again or check '
                         f'the source ({remote.url})')
    return f'{algo} ok'
