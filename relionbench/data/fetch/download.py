"""One remote file into place: ``<file>.part`` resumed by wget, verified, then renamed.

A file under its final name is a verified one, so a re-run skips it.  wget gives up after
wget.TRIES attempts in a row; while each of its runs still adds to the file another run
follows, so a flaky link that keeps making progress is not abandoned.
"""

import os

from relionbench.data.fetch import verify, wget
from relionbench.data.fetch.errors import FetchError
from relionbench.data.fetch.progress import Progress, file_size, human, log


def _on_total(remote, progress):
    """What to do when wget learns the remote size: stop if it is not the catalogue's."""
    def check(total):
        progress.total = total
        if remote.size is not None and total != remote.size:
            raise FetchError(f'{remote.url}: server reports {total} bytes but {remote.size} '
                             f'are expected; the file may have changed upstream (pass '
                             f'--sha256 to accept a new version)')
    return check


def _transfer(remote, part):
    """Run wget until ``part`` is whole; returns the expected size (None if unknown)."""
    name = remote.path.name
    restarted = False
    while True:
        have = file_size(part)
        if remote.size is not None and have == remote.size:
            return remote.size                      # whole already: nothing to ask for
        progress = Progress(name, remote.size, have)
        try:
            result = wget.run(remote.url, part, name, resume=True, progress=progress,
                              on_total=_on_total(remote, progress))
        except FetchError:
            _drop_empty(part)
            raise
        total = remote.size if remote.size is not None else result.total
        size = file_size(part)
        if result.ok and total is not None and size > total and not restarted:
            log(f'  {name}: the partial file ({human(size)}) is longer than the remote one '
                f'({human(total)}); restarting')
            part.unlink()
            restarted = True
            continue
        if result.ok:
            return total
        if result.transient and size > have:
            log(f'  {name}: wget gave up at {human(size)} of {human(total)} after '
                f'{result.attempts} tries, but the file grew; starting it again')
            continue
        _drop_empty(part)
        raise wget.failure(result, remote.url, part)


def _drop_empty(part):
    if part.exists() and not file_size(part):
        part.unlink()


def download(remote):
    """Fetch ``remote`` into place unless already there; True if something was downloaded."""
    final = remote.path
    if final.exists():
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + '.part')
    have = file_size(part)
    if remote.size is not None and have > remote.size:
        part.unlink()                               # not a prefix of this file
        have = 0
    size = f' ({human(remote.size)})' if remote.size is not None else ''
    log(f'get {final.name}{size} from {remote.url}'
        + (f', resuming at {human(have)}' if have else ''))
    expected = _transfer(remote, part)
    how = verify.check(part, remote, expected)
    os.replace(part, final)
    log(f'ok  {final.name} ({human(file_size(final))}, {how})')
    return True
