"""Unpack a downloaded tarball safely: nothing lands or links outside the destination."""

import os
import shutil
import tarfile
import time

from relionbench.data.fetch.errors import FetchError
from relionbench.data.fetch.progress import PROGRESS_EVERY_S, log

HAS_DATA_FILTER = hasattr(tarfile, 'data_filter')
_TAR_UNSAFE = (tarfile.FilterError,) if HAS_DATA_FILTER else ()
_NO_FILTER = {'filter': 'fully_trusted'} if HAS_DATA_FILTER else {}    # after our own checks


def _inside(root, path):
    return os.path.commonpath([root, path]) == root


def _check_member(member, root):
    """Refuse a tar member that is special or would land (or link) outside ``root``."""
    target = os.path.realpath(os.path.join(root, member.name))
    bad = None
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        bad = 'is a special file'
    elif os.path.isabs(member.name) or not _inside(root, target):
        bad = 'is outside the destination'
    elif member.issym() and (os.path.isabs(member.linkname) or not _inside(
            root, os.path.realpath(os.path.join(os.path.dirname(target), member.linkname)))):
        bad = 'links outside the destination'
    elif member.islnk() and not _inside(
            root, os.path.realpath(os.path.join(root, member.linkname))):
        bad = 'links outside the destination'
    if bad:
        raise FetchError(f'member {member.name!r} {bad}')


def _data_filter(member, root):
    """tarfile's 'data' filter, but refusing absolute names instead of stripping the '/'."""
    if member.name.startswith('/'):
        raise FetchError(f'member {member.name!r} has an absolute path')
    return tarfile.data_filter(member, root)


def _members(tar):
    """The archive's members, with an occasional progress line."""
    last = time.monotonic()
    for count, member in enumerate(tar, 1):
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            log(f'  unpacked {count} files so far')
        yield member


def _extract(archive, root):
    """Extract ``archive`` into ``root``, refusing members that escape it."""
    root = os.path.realpath(root)
    with tarfile.open(archive, 'r:*') as tar:
        if HAS_DATA_FILTER:
            tar.extractall(root, members=_members(tar), filter=_data_filter)
            return
        for member in _members(tar):
            _check_member(member, root)
            tar.extract(member, root, **_NO_FILTER)


def _one_line(exc):
    return ' '.join(str(exc).split())        # tarfile lists each method it tried on a line


def unpack(archive, target, expect=()):
    """Unpack ``archive`` into ``target``, dropping a single top-level folder if it has one."""
    work = target.with_name(f'.{target.name}.unpacking')
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    log(f'unpack {archive.name} into {target}')
    try:
        _extract(archive, work)
    except (FetchError, *_TAR_UNSAFE) as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise FetchError(f'refusing to unpack {archive}: {_one_line(exc)}; the archive is '
                         f'kept, check where it came from') from None
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise FetchError(f'cannot unpack {archive}: {_one_line(exc)}; check free space, or '
                         f'delete the archive and re-run to download it again') from None
    entries = list(work.iterdir())
    single = len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink()
    top = entries[0] if single else work
    os.replace(top, target)
    shutil.rmtree(work, ignore_errors=True)
    missing = [p for p in expect if not (target / p).exists()]
    if missing:
        raise FetchError(f'{archive.name} unpacked into {target} but it lacks {missing[0]}; '
                         f'is this the right archive?')
