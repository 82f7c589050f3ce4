"""Download the benchmark datasets: resumable, verified, idempotent (stdlib only).

``relion-benchmark`` is RELION's standard Plasmodium ribosome benchmark (particles from
EMPIAR-10028), one ~47 GiB tarball from MRC-LMB that is unpacked into
``<dest>/relion-benchmark``.  ``empiar-<N>`` mirrors an EMPIAR entry into ``<dest>/empiar-<N>``
by walking the EBI server's HTTP directory index.

Every file goes to ``<file>.part``, is resumed with an HTTP ``Range`` request (FTP ``REST``),
is checked against a sha256/md5 when one is known (else against its size) and only then
renamed, so a file under its final name is a verified one and a re-run skips it.
"""

from __future__ import annotations

import argparse
import ftplib
import hashlib
import http.client
import os
import posixpath
import re
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

EMPIAR_URL = 'https://ftp.ebi.ac.uk/empiar/world_availability/{n}/'
CHUNK = 1 << 20                 # bytes per read
RETRIES = 4                     # consecutive failed attempts before giving up
BACKOFF_S = 1.0                 # first retry delay, doubled after each failure
TIMEOUT_S = 60                  # socket timeout
PROGRESS_EVERY_S = 30.0         # seconds between progress lines
RETRY_HTTP = (408, 425, 429, 500, 502, 503, 504)
USER_AGENT = 'relion-reframe-fetch-dataset/1'
PROG = 'fetch-dataset'

_HAS_DATA_FILTER = hasattr(tarfile, 'data_filter')
_TAR_UNSAFE = (tarfile.FilterError,) if _HAS_DATA_FILTER else ()
_NO_FILTER = {'filter': 'fully_trusted'} if _HAS_DATA_FILTER else {}   # after our own checks


@dataclass(frozen=True)
class Source:
    """A dataset the tool knows how to fetch."""

    id: str
    url: str
    description: str
    kind: str = 'archive'       # 'archive': one tarball to unpack; 'index': walk a directory
    sha256: str | None = None
    size: int | None = None
    expect: tuple = ()          # paths the unpacked dataset must contain


SOURCES = {
    # The URL RELION's docs and benchmark users give: only ftp:// is documented, no https.
    # sha256 and size from the Phoronix Test Suite profile pts/relion (downloads.xml).
    'relion-benchmark': Source(
        'relion-benchmark',
        'ftp://ftp.mrc-lmb.cam.ac.uk/pub/scheres/relion_benchmark.tar.gz',
        'Plasmodium 80S ribosome benchmark (EMPIAR-10028 particles), 47.2 GiB tarball',
        sha256='c7d34a1c98ba956aa0a9b4534921c285c07bab4b9bd8ac3ee1604353c6cccd11',
        size=50_671_399_402,
        expect=('Particles/shiny_2sets.star', 'emd_2660.map'),
    ),
}


@dataclass(frozen=True)
class Remote:
    """One file to download and how to check it."""

    url: str
    path: Path
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None


class FetchError(Exception):
    """A failure, reported to the user as one line (exit 1)."""


class UsageError(FetchError):
    """A bad command line (exit 2)."""


class _Transient(Exception):
    """A failure worth retrying (network, 5xx, short read)."""


def log(msg):
    """A progress line on stdout."""
    print(msg, flush=True)


def human(n):
    """``n`` bytes, readable."""
    if n is None:
        return 'unknown size'
    size = float(n)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if size < 1024:
            return f'{size:.0f} {unit}' if unit == 'B' else f'{size:.1f} {unit}'
        size /= 1024
    return f'{size:.1f} TiB'


def _size(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


# -- catalogue ----------------------------------------------------------------------------

def resolve(dataset):
    """The Source for a dataset id: a catalogue entry or ``empiar-<digits>``."""
    if dataset in SOURCES:
        return SOURCES[dataset]
    match = re.fullmatch(r'empiar-(\d+)', dataset, re.IGNORECASE)
    if match:
        n = match.group(1)
        return Source(f'empiar-{n}', EMPIAR_URL.format(n=n), f'EMPIAR-{n}', kind='index')
    known = ', '.join([*SOURCES, 'empiar-<N>'])
    raise UsageError(f'unknown dataset {dataset!r}; known: {known}')


def rebase(url, base):
    """``url`` with its scheme and server replaced by ``base`` (whose path is prefixed)."""
    new = urllib.parse.urlsplit(base)
    if new.scheme not in ('http', 'https', 'ftp') or not new.netloc:
        raise UsageError(f'--base-url {base!r} must look like https://host[:port][/path]')
    old = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((new.scheme, new.netloc, new.path.rstrip('/') + old.path,
                                    old.query, ''))


# -- verification -------------------------------------------------------------------------

class _RunningDigest:
    """A digest of a .part file kept in step with the bytes appended to it."""

    def __init__(self, algo):
        self.algo = algo
        self.reset()

    def reset(self):
        self.hash = hashlib.new(self.algo, usedforsecurity=False) if self.algo else None
        self.count = 0

    def update(self, chunk):
        if self.hash:
            self.hash.update(chunk)
        self.count += len(chunk)

    def catch_up(self, path):
        """Hash whatever of ``path`` is not hashed yet (all of it if it shrank)."""
        if not self.hash:
            return
        if self.count > _size(path):
            self.reset()
        with path.open('rb') as fh:
            fh.seek(self.count)
            while chunk := fh.read(CHUNK):
                self.update(chunk)

    def hexdigest(self):
        return self.hash.hexdigest() if self.hash else None


def _expected_digest(remote):
    if remote.sha256:
        return 'sha256', remote.sha256.lower()
    if remote.md5:
        return 'md5', remote.md5.lower()
    return None, None


def _verify(part, remote, expected_size, digest):
    """Check size and digest of a finished .part; delete it on a checksum mismatch."""
    name = remote.path.name
    size = _size(part)
    if expected_size is not None and size != expected_size:
        raise FetchError(f'{name}: got {size} bytes, expected {expected_size}; re-run to resume')
    algo, want = _expected_digest(remote)
    if not algo:
        return f'size {human(size)} ok, no checksum known' if expected_size is not None \
            else 'unverified: server sent no size and no checksum is known'
    digest.catch_up(part)
    got = digest.hexdigest()
    if got != want:
        part.unlink()
        raise FetchError(f'checksum mismatch for {name}: expected {algo} {want}, got {got}; '
                         f'the partial file was deleted, re-run to download it again or check '
                         f'the source ({remote.url})')
    return f'{algo} ok'


# -- downloading --------------------------------------------------------------------------

class _Progress:
    """Occasional progress lines for one transfer."""

    def __init__(self, name, total, done):
        self.name, self.total, self.done = name, total, done
        self.start_done, self.start = done, time.monotonic()
        self.last = self.start

    def add(self, n):
        self.done += n
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            rate = (self.done - self.start_done) / max(now - self.start, 1e-6)
            pct = f' ({100 * self.done / self.total:.0f}%)' if self.total else ''
            log(f'  {self.name}: {human(self.done)} of {human(self.total)}{pct}, '
                f'{human(rate)}/s')


def _write(fh, chunk, digest, progress, part):
    try:
        fh.write(chunk)
    except OSError as exc:
        raise FetchError(f'cannot write {part}: {exc.strerror}; free some space and re-run '
                         f'to resume') from exc
    digest.update(chunk)
    progress.add(len(chunk))


def _content_range(value):
    """(start, total) from a Content-Range header; None where absent or '*'."""
    match = re.match(r'bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)', value or '')
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total != '*' else None)


def _check_total(remote, total):
    if remote.size is not None and total is not None and total != remote.size:
        raise FetchError(f'{remote.url}: server reports {total} bytes but {remote.size} are '
                         f'expected; the file may have changed upstream (pass --sha256 to '
                         f'accept a new version)')


def _http_error(exc, remote, part, offset):
    """Map an HTTP error response to: done (returns the size), retry, or fail."""
    exc.close()
    if exc.code == 416 and offset:
        _, total = _content_range(exc.headers.get('Content-Range'))
        if total == offset or (total is None and remote.size == offset):
            return offset
        part.unlink()
        raise _Transient(f'server refused to resume at byte {offset}; restarting') from None
    if exc.code in RETRY_HTTP:
        raise _Transient(f'HTTP {exc.code} {exc.reason}') from None
    raise FetchError(f'{remote.url}: HTTP {exc.code} {exc.reason}; check the dataset id and '
                     f'--base-url') from None


def _attempt_http(remote, part, digest):
    """One HTTP(S) request resuming ``part``; returns the expected total size."""
    offset = _size(part)
    if remote.size is not None and offset > remote.size:
        part.unlink()
        offset = 0
    if offset and offset == remote.size:
        return offset
    headers = {'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity'}
    if offset:
        headers['Range'] = f'bytes={offset}-'
    request = urllib.request.Request(remote.url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        return _http_error(exc, remote, part, offset)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(str(getattr(exc, 'reason', exc))) from None
    with response:
        if response.status == 206:
            start, total = _content_range(response.headers.get('Content-Range'))
            if start != offset:
                part.unlink()
                raise _Transient(f'server sent bytes from {start}, asked for {offset}')
            mode = 'ab'
        else:
            if offset:
                log(f'  {remote.path.name}: server ignored the resume request; restarting')
            offset, mode = 0, 'wb'
            length = response.headers.get('Content-Length')
            total = int(length) if length and length.isdigit() else None
        _check_total(remote, total)
        expected = remote.size if remote.size is not None else total
        if mode == 'ab':
            digest.catch_up(part)
        else:
            digest.reset()
        progress = _Progress(remote.path.name, expected, offset)
        with part.open(mode) as fh:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Transient(f'transfer interrupted ({exc})') from None
                if not chunk:
                    break
                _write(fh, chunk, digest, progress, part)
    return _check_length(part, expected)


def _check_length(part, expected):
    size = _size(part)
    if expected is not None and size < expected:
        raise _Transient(f'connection closed at {human(size)} of {human(expected)}')
    if expected is not None and size > expected:
        part.unlink()
        raise _Transient(f'received {size} bytes, expected {expected}; restarting')
    return expected


def _attempt_ftp(remote, part, digest):
    """One FTP transfer resuming ``part`` with REST; returns the expected total size."""
    url = urllib.parse.urlsplit(remote.url)
    path = urllib.parse.unquote(url.path)
    try:
        with ftplib.FTP(timeout=TIMEOUT_S) as ftp:
            ftp.connect(url.hostname, url.port or 21)
            ftp.login(urllib.parse.unquote(url.username or 'anonymous'),
                      urllib.parse.unquote(url.password or 'anonymous@'))
            ftp.voidcmd('TYPE I')
            try:
                total = ftp.size(path)
            except ftplib.error_perm:
                total = None
            _check_total(remote, total)
            expected = remote.size if remote.size is not None else total
            offset = _size(part)
            if expected is not None and offset > expected:
                part.unlink()
                offset = 0
            if offset and offset == expected:
                return expected
            if offset:
                digest.catch_up(part)
            else:
                digest.reset()
            progress = _Progress(remote.path.name, expected, offset)
            with part.open('ab' if offset else 'wb') as fh:
                ftp.retrbinary(f'RETR {path}', lambda c: _write(fh, c, digest, progress, part),
                               blocksize=CHUNK, rest=offset or None)
    except ftplib.error_perm as exc:
        raise FetchError(f'{remote.url}: {exc}; check the dataset id and --base-url') from None
    except (ftplib.Error, OSError, EOFError) as exc:
        raise _Transient(str(exc) or type(exc).__name__) from None
    return _check_length(part, expected)


def download(remote):
    """Fetch ``remote`` into place unless already there; True if something was downloaded."""
    final = remote.path
    if final.exists():
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + '.part')
    attempt = _attempt_ftp if remote.url.startswith('ftp:') else _attempt_http
    digest = _RunningDigest(_expected_digest(remote)[0])
    have = _size(part)
    size = f' ({human(remote.size)})' if remote.size is not None else ''
    log(f'get {final.name}{size} from {remote.url}'
        + (f', resuming at {human(have)}' if have else ''))
    failures = 0
    while True:
        before = _size(part)
        try:
            expected = attempt(remote, part, digest)
            break
        except _Transient as exc:
            failures = 0 if _size(part) > before else failures + 1
            if failures >= RETRIES:
                raise FetchError(f'cannot download {remote.url}: {exc} ({RETRIES} attempts); '
                                 f'check the network or --base-url, then re-run to '
                                 f'resume') from None
            delay = BACKOFF_S * 2 ** max(failures - 1, 0)
            log(f'  {final.name}: {exc}; retrying in {delay:.0f} s')
            time.sleep(delay)
    how = _verify(part, remote, expected, digest)
    os.replace(part, final)
    log(f'ok  {final.name} ({human(_size(final))}, {how})')
    return True


def _check_space(folder, remote):
    """Fail early unless ``folder`` can hold the rest of the archive and its unpacked copy."""
    if remote.size is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    part = remote.path.with_name(remote.path.name + '.part')
    have = remote.size if remote.path.exists() else _size(part)
    need = 2 * remote.size - have
    free = shutil.disk_usage(folder).free
    if free < need:
        raise FetchError(f'{folder} has {human(free)} free but {remote.path.name} needs about '
                         f'{human(need)} to finish downloading and unpacking; free some space '
                         f'or choose another --dest')


# -- unpacking ----------------------------------------------------------------------------

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
        if _HAS_DATA_FILTER:
            tar.extractall(root, members=_members(tar), filter=_data_filter)
            return
        for member in _members(tar):
            _check_member(member, root)
            tar.extract(member, root, **_NO_FILTER)


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
        raise FetchError(f'refusing to unpack {archive}: {exc}; the archive is kept, check '
                         f'where it came from') from None
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise FetchError(f'cannot unpack {archive}: {exc}; check free space, or delete the '
                         f'archive and re-run to download it again') from None
    entries = list(work.iterdir())
    single = len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink()
    top = entries[0] if single else work
    os.replace(top, target)
    shutil.rmtree(work, ignore_errors=True)
    missing = [p for p in expect if not (target / p).exists()]
    if missing:
        raise FetchError(f'{archive.name} unpacked into {target} but it lacks {missing[0]}; '
                         f'is this the right archive?')


# -- directory index (EMPIAR) ---------------------------------------------------------------

class _Links(HTMLParser):
    """The href of every <a> in a page."""

    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == 'a':
            self.hrefs += [v for k, v in attrs if k == 'href' and v]


def _get_text(url):
    """A small page, retried on transient errors."""
    for attempt in range(1, RETRIES + 1):
        try:
            request = urllib.request.Request(url, headers={'User-Agent': USER_AGENT})
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                charset = response.headers.get_content_charset() or 'utf-8'
                return response.read().decode(charset, errors='replace')
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code not in RETRY_HTTP:
                raise FetchError(f'{url}: HTTP {exc.code} {exc.reason}; check the dataset id '
                                 f'and --base-url') from None
            reason = f'HTTP {exc.code}'
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = str(getattr(exc, 'reason', exc))
        if attempt == RETRIES:
            raise FetchError(f'cannot read {url}: {reason} ({RETRIES} attempts); check the '
                             f'network or --base-url')
        log(f'  {url}: {reason}; retrying')
        time.sleep(BACKOFF_S * 2 ** (attempt - 1))


def list_index(url):
    """(subfolder URLs, file URLs) linked from the directory index page at ``url``."""
    parser = _Links()
    parser.feed(_get_text(url))
    folders, files = [], []
    for href in parser.hrefs:
        link = urllib.parse.urljoin(url, href)
        parts = urllib.parse.urlsplit(link)
        if parts.query or not link.startswith(url) or len(link) <= len(url):
            continue                    # sort links, parent folder, other sites
        link = urllib.parse.urlunsplit(parts._replace(fragment=''))
        (folders if link.endswith('/') else files).append(link)
    return sorted(set(folders)), sorted(set(files))


def walk_index(root):
    """Every file URL below the index ``root`` (which ends in '/')."""
    pending, seen, files = [root], set(), []
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        folders, found = list_index(url)
        files += found
        pending += folders
    return sorted(files)


def relative(root, url):
    """The local relative path of ``url`` below ``root``; FetchError if it is unsafe."""
    rel = urllib.parse.unquote(url[len(root):])
    parts = PurePosixPath(rel).parts
    if not parts or rel.startswith('/') or any(p in ('.', '..') for p in parts):
        raise FetchError(f'refusing unsafe path {rel!r} in the index of {root}')
    return rel


_SUMS_NAME = re.compile(r'(^md5sums?\b|\.md5(sums?)?(\.txt)?$)', re.IGNORECASE)
_MD5 = '[0-9a-fA-F]{32}'
_SUM_LINES = (
    re.compile(rf'^(?P<md5>{_MD5})\s+\*?(?P<name>.+?)\s*$'),            # md5sum
    re.compile(rf'^MD5\s*\((?P<name>.+)\)\s*=\s*(?P<md5>{_MD5})\s*$'),  # BSD md5
    re.compile(rf'^(?P<name>.+?)\s+(?P<md5>{_MD5})\s*$'),               # name first
    re.compile(rf'^(?P<md5>{_MD5})\s*$'),                               # bare, for X.md5
)


def is_checksum_file(name):
    """True for md5sum-style files (``*.md5``, ``md5sum*.txt`` ...)."""
    return bool(_SUMS_NAME.search(posixpath.basename(name)))


class ChecksumTable:
    """md5 digests read from an entry's checksum files, looked up by relative path."""

    def __init__(self):
        self.by_path, self.by_name = {}, {}

    def add(self, sums_rel, text):
        """Read the checksum file at ``sums_rel`` (relative to the entry) with ``text``."""
        folder = posixpath.dirname(sums_rel)
        bare = re.sub(r'\.md5$', '', posixpath.basename(sums_rel), flags=re.IGNORECASE)
        for line in text.splitlines():
            match = next((m for p in _SUM_LINES if (m := p.match(line.strip()))), None)
            if not match:
                continue
            md5 = match['md5'].lower()
            name = match.groupdict().get('name') or bare
            while name.startswith('./'):
                name = name[2:]
            for key in (posixpath.normpath(posixpath.join(folder, name)),
                        posixpath.normpath(name)):
                self.by_path.setdefault(key, md5)
            base = posixpath.basename(name)
            self.by_name[base] = md5 if self.by_name.get(base, md5) == md5 else None

    def lookup(self, rel):
        """The md5 for the file at ``rel``, or None."""
        return self.by_path.get(rel) or self.by_name.get(posixpath.basename(rel))


# -- the two kinds of dataset ---------------------------------------------------------------

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
    _check_space(dest, remote)
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


# -- command line -------------------------------------------------------------------------

def build_parser():
    """The fetch-dataset argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG, description='Download a RELION benchmark dataset with resume and checksum '
        'verification; re-running skips what is already complete.',
        epilog='datasets: ' + '; '.join(f'{s.id}: {s.description}' for s in SOURCES.values())
        + '; empiar-<N>: every file of EMPIAR entry N (e.g. empiar-10338, aldolase). '
        'Exit status: 0 ok, 1 failure, 2 usage error.')
    parser.add_argument('dataset', help='dataset id, e.g. relion-benchmark or empiar-10338')
    parser.add_argument('--dest', required=True, type=Path, metavar='DIR',
                        help='data root; the dataset goes to DEST/<dataset>')
    parser.add_argument('--base-url', metavar='URL',
                        help='replace scheme://host of the catalogue URL (a mirror or a test '
                        'server); its path is prefixed')
    parser.add_argument('--sha256', metavar='HEX',
                        help='expected sha256 of the download (single-file datasets; replaces '
                        'the catalogue checksum and size)')
    parser.add_argument('--keep-archive', action='store_true',
                        help='keep the tarball after unpacking it')
    parser.add_argument('--dry-run', action='store_true',
                        help='print what would be downloaded, change nothing')
    return parser


def _source_for(args):
    source = resolve(args.dataset)
    if args.sha256:
        if source.kind != 'archive':
            raise UsageError(f'--sha256 applies to single-file datasets, not {source.id}')
        if not re.fullmatch(r'[0-9a-fA-F]{64}', args.sha256):
            raise UsageError(f'--sha256 {args.sha256!r} is not 64 hex digits')
        source = replace(source, sha256=args.sha256.lower(), size=None)
    if args.base_url:
        source = replace(source, url=rebase(source.url, args.base_url))
    return source


def run(args):
    """Fetch the dataset the parsed ``args`` name."""
    source = _source_for(args)
    dest = args.dest.expanduser()
    if source.kind == 'index':
        fetch_index(source, dest, args.dry_run)
    else:
        fetch_archive(source, dest, args.dry_run, args.keep_archive)


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        run(args)
    except UsageError as exc:
        print(f'{PROG}: error: {exc}', file=sys.stderr)
        return 2
    except FetchError as exc:
        print(f'{PROG}: error: {exc}', file=sys.stderr)
        return 1
    except OSError as exc:
        print(f'{PROG}: error: {exc.filename or ""}: {exc.strerror or exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted; re-run the same command to resume', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
