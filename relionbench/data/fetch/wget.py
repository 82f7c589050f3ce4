"""Run GNU Wget for one URL and read its log: retries relayed, the remote size, why it failed.

wget owns the transfer: ``--continue`` resumes a partial file (HTTP ``Range``, FTP ``REST``),
and within one run it retries a dropped or refused connection, a timeout and the HTTP
statuses in RETRY_HTTP, resuming each time from what it has.  Its messages are read in the C
locale, one line at a time, from stderr.
"""

from __future__ import annotations

import codecs
import functools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from relionbench.data.fetch.errors import FetchError
from relionbench.data.fetch.progress import file_size, human, log

WGET = 'wget'
INSTALL = 'apt-get install wget (dnf install wget on RHEL)'
TRIES = 4                       # attempts within one wget run (--tries)
WAITRETRY_S = 10                # wget waits 1 s, 2 s, ... at most this between them
TIMEOUT_S = 60                  # DNS, connect and read timeout (--timeout)
RETRY_HTTP = (408, 425, 429, 500, 502, 503, 504)
USER_AGENT = 'relion-reframe-fetch-dataset/1'

_DOTS = re.compile(r'^\s*\d+[KMGT]\s|^\s+\[ skipping ')             # --progress=dot lines
_STATUS = re.compile(r'^  HTTP/\S+ (\d{3})\s*(.*)$')                 # --server-response
_RANGE_TOTAL = re.compile(r'^  Content-Range:\s*bytes\s+\S*/(\d+)', re.IGNORECASE)
_CHARSET = re.compile(r'^  Content-Type:.*;\s*charset="?([\w.:-]+)', re.IGNORECASE)
_TOTAL = re.compile(r'^Length: (\d+)|==> SIZE \S.* \.\.\. (\d+)')
_ERROR = re.compile(r'^ERROR (\d{3}): (.*)$')
_STAMP = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\([^)]*\) - )?')
_ATTEMPT = re.compile(r'^--\d{4}-\d\d-\d\d \d\d:\d\d:\d\d--  ')
_WAITING = re.compile(r'^(?:Resolving|Connecting to|HTTP request sent|Reusing existing).*?'
                      r'\.\.\. ?(.*)$')                   # its tail: what came of it
_NOISE = re.compile(
    r'^(\s+\(try:|\s+=> |Saving to|Logging in as|==> |--> |Location: |Giving up'
    r'|The file is already fully retrieved|File has already been retrieved'
    r'|To connect to .* insecurely|.* saved \[\d)')
_AT_BYTE = re.compile(r' at byte (\d+)')


@dataclass
class Result:
    """What one wget run did."""

    rc: int
    reason: str | None = None   # wget's last word on what went wrong
    total: int | None = None    # the remote file's size, where wget learned it
    status: int | None = None   # the last HTTP status
    attempts: int = 1
    charset: str | None = None

    @property
    def ok(self):
        return self.rc == 0

    @property
    def transient(self):
        """A network failure (or a busy server) that outlasted wget's tries."""
        return self.rc == 4 or (self.rc == 8 and self.status in RETRY_HTTP)


def command(url, out, resume, exe=WGET):
    """The wget command line that fetches ``url`` into ``out``."""
    argv = [exe, f'--output-document={out}', f'--tries={TRIES}',
            f'--waitretry={WAITRETRY_S}', f'--timeout={TIMEOUT_S}', '--retry-connrefused',
            '--retry-on-http-error=' + ','.join(map(str, RETRY_HTTP)),
            f'--user-agent={USER_AGENT}', '--progress=dot:mega', '--no-glob']
    if resume:
        argv.append('--continue')
    if not url.startswith('ftp:'):
        argv.append('--server-response')            # HTTP status and headers in the log
    return [*argv, '--', url]


def _clean(line):
    """A wget message without its timestamp, rate, 'wget: ' and final full stop."""
    line = _STAMP.sub('', line.strip())
    line = line.removeprefix('wget: ')
    if error := _ERROR.match(line):
        line = f'HTTP {error[1]} {error[2]}'
    if 'failed: ' in line:
        line = line.split('failed: ', 1)[1]
    for end in ('Retrying.', 'Giving up.'):
        line = line.removesuffix(end).strip()
    return line.rstrip('.').replace('\u2018', "'").replace('\u2019', "'")


class _Reader:
    """Follows one wget log, line by line."""

    def __init__(self, label, out, resume, progress, on_total):
        self.label, self.out, self.resume = label, out, resume
        self.progress, self.on_total = progress, on_total
        self.had = file_size(out) if resume else 0    # the byte wget's next request resumes at
        self.result = Result(rc=-1)

    def feed(self, line):
        result = self.result
        if _DOTS.match(line):
            if self.progress:
                self.progress.update(file_size(self.out))
            return
        if status := _STATUS.match(line):
            result.status = int(status[1])
            if result.status >= 400:
                result.reason = f'HTTP {status[1]} {status[2]}'.strip()
            elif result.status == 200 and self.had:
                log(f'  {self.label}: the server ignored the resume request; wget reads '
                    f'past the {human(self.had)} it has again')
            return
        if charset := _CHARSET.match(line):
            result.charset = charset[1]
        if total := (_RANGE_TOTAL.match(line) or _TOTAL.search(line)):
            result.total = int(total[1] or total[2])
            if self.on_total:
                self.on_total(result.total)
            return
        if _ATTEMPT.match(line):
            result.reason = None                        # an attempt begins
            return
        if waiting := _WAITING.match(line):
            line = waiting[1]
            if line in ('', 'connected.') or re.fullmatch(r'[\d.:a-f, ]+', line):
                return
        if line.startswith('  ') or not line.strip() or _NOISE.match(line):
            return
        if line.endswith('Retrying.'):
            result.reason = _clean(line) or result.reason
            result.attempts += 1
            if at := _AT_BYTE.search(result.reason or ''):
                self.had = int(at[1])                   # where wget resumes next
            log(f'  {self.label}: {result.reason or "failed"}; retrying '
                f'(try {result.attempts} of {TRIES})')
            return
        result.reason = _clean(line) or result.reason


@functools.cache
def _version(exe):
    try:
        proc = subprocess.run([exe, '--version'], capture_output=True, text=True, timeout=30,
                              env={**os.environ, 'LC_ALL': 'C'})
    except (OSError, subprocess.SubprocessError):
        return ''
    return (proc.stdout.splitlines() or [''])[0].strip()


def locate():
    """The path of GNU Wget 1.x; a FetchError saying how to install it if there is none."""
    exe = shutil.which(WGET)
    if not exe:
        raise FetchError(f'{WGET} is not installed: {INSTALL}')
    version = _version(exe)
    if not version.startswith('GNU Wget 1.'):
        raise FetchError(f'{exe} is {version or "not GNU Wget"}, but fetch-dataset needs GNU '
                         f'Wget 1.x (wget2 has no FTP): {INSTALL}')
    return exe


def run(url, out: Path, label, resume=False, progress=None, on_total=None):
    """Fetch ``url`` into ``out`` with wget, relaying its retries; returns a Result.

    ``progress`` (a progress.Progress) hears how much of ``out`` is on disk as wget reports
    progress; ``on_total(size)`` hears the remote size once wget knows it and may raise to
    stop the transfer.
    """
    exe = locate()
    env = {**os.environ, 'LC_ALL': 'C'}
    env.pop('LANGUAGE', None)
    reader = _Reader(label, out, resume, progress, on_total)
    proc = subprocess.Popen(command(url, out, resume, exe), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            text=True, errors='replace')
    try:
        for line in proc.stderr:
            reader.feed(line.rstrip('\r\n'))
        reader.result.rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return reader.result


def failure(result, url, out, verb='download'):
    """The one-line FetchError for a wget run that failed."""
    reason = result.reason or f'wget exit status {result.rc}'
    if result.transient:
        then = ', then re-run to resume' if verb == 'download' else ''
        tries = f'{result.attempts} attempt' + ('s' if result.attempts > 1 else '')
        return FetchError(f'cannot {verb} {url}: {reason} ({tries}); check the network or '
                          f'--base-url{then}')
    if result.rc == 8:
        return FetchError(f'{url}: {reason}; check the dataset id and --base-url')
    if result.rc == 3:
        return FetchError(f'cannot write {out}: {reason}; free some space and re-run to resume')
    if result.rc == 5:
        return FetchError(f'cannot {verb} {url}: {reason}; the server certificate did not '
                          f'verify: update the CA certificates (apt-get install '
                          f'ca-certificates) or use another --base-url')
    if result.rc == 6:
        return FetchError(f'{url}: {reason}; the server refused the login')
    if result.rc == 2:
        return FetchError(f'wget refused its options ({reason}); check ~/.wgetrc and '
                          f'/etc/wgetrc')
    return FetchError(f'cannot {verb} {url}: {reason} (wget exit status {result.rc}); re-run '
                      f'to try again')


def get_text(url):
    """A small page (a directory index) as text."""
    with tempfile.TemporaryDirectory(prefix='fetch-dataset-') as tmp:
        page = Path(tmp) / 'page'
        result = run(url, page, label=url)
        if not result.ok:
            raise failure(result, url, page, verb='read')
        charset = result.charset or 'utf-8'
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = 'utf-8'
        return page.read_bytes().decode(charset, errors='replace')
