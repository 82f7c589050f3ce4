"""The two kinds of dataset: one tarball to unpack, or a directory index to mirror."""

import posixpath
import shutil
import urllib.parse

from relionbench.data.fetch.catalogue import Remote
from relionbench.data.fetch.download import download
from relionbench.data.fetch.errors import FetchError
from relionbench.data.fetch.index import ChecksumTable, is_checksum_file, relative, walk_index
from relionbench.data.fetch.progress import file_size, human, log
from relionbench.data.fetch.unpack import unpack


def check_space(folder, remote):
    """Fail early unless ``folder`` can hold the rest of the archive and its unpacked copy."""
    if remote.size is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    part = remote.path.with_name(remote.path.name + '.part')
    have = remote.size if remote.path.exists() else file_size(part)
    need = 2 * remote.size - have
    free = shutil.disk_usage(folder).free
    if free < need:
        raise FetchError(f'{folder} has {human(free)} free but {remote.path.name} needs about '
                         f'{human(need)} to finish downloading and unpacking; free some space '
                         f'or choose another --dest')


def fetch_archive(source, dest, dry_run=False, keep_archive=False):
    """Download and unpack a tarball dataset into ``<dest>/<id>``."""
    target = dest / source.id
    missing = [p for p in source.expect if not (target / p).exists()]
    if target.is_dir() and not missing:
        log(f'ok  {source.id}: already in {target}, nothing to do')
        return
    if target.exists():
        raise FetchError(f'{target} exists but lacks {missing[0]}; move it away and re-run')
    archive = dest / posixpath.basename(urllib.parse.urlsplit(source.url).path)
    remote = Remote(source.url, archive, sha256=source.sha256, size=source.size)
    if dry_run:
        check = f'sha256 {source.sha256}' if source.sha256 else 'size only'
        state = ' (already downloaded)' if archive.exists() else ''
        log(f'would download {source.url} ({human(source.size)}, {check}) -> {archive}{state}')
        log(f'would unpack it into {target}')
        return
    check_space(dest, remote)
    download(remote)
    unpack(archive, target, source.expect)
    if keep_archive:
        log(f'ok  {source.id}: ready in {target} (archive kept: {archive})')
    else:
        archive.unlink()
        log(f'ok  {source.id}: ready in {target} (archive removed)')


def fetch_index(source, dest, dry_run=False):
    """Mirror a directory index (an EMPIAR entry) into ``<dest>/<id>``."""
    root = dest / source.id
    log(f'list {source.url}')
    urls = walk_index(source.url)
    if not urls:
        raise FetchError(f'no files listed under {source.url}; check the EMPIAR id')
    sums = [u for u in urls if is_checksum_file(u)]
    data = [u for u in urls if u not in sums]
    if dry_run:
        for url in sums + data:
            state = ' (present)' if (root / relative(source.url, url)).exists() else ''
            log(f'would download {url} -> {root / relative(source.url, url)}{state}')
        log(f'{source.id}: {len(urls)} files ({len(sums)} checksum files) -> {root}')
        return
    table = ChecksumTable()
    fetched = checked = 0
    for url in sums:
        rel = relative(source.url, url)
        fetched += download(Remote(url, root / rel))
        table.add(rel, (root / rel).read_text(errors='replace'))
    for url in data:
        rel = relative(source.url, url)
        md5 = table.lookup(rel)
        checked += bool(md5)
        fetched += download(Remote(url, root / rel, md5=md5))
    log(f'ok  {source.id}: {len(urls)} files in {root} ({fetched} downloaded, '
        f'{len(urls) - fetched} already present; {checked} of {len(data)} with a known md5)')
