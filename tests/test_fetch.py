"""scripts/fetch-dataset (wget underneath) against local HTTP and FTP servers on 127.0.0.1."""

import hashlib
import io
import os
import posixpath
import random
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from relionbench.data.fetch import catalogue, cli, download, index, progress, unpack, wget

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = '/pub/scheres/relion_benchmark.tar.gz'
ENTRY = '/empiar/world_availability/10338/'


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def md5(data):
    return hashlib.md5(data).hexdigest()


def make_tar(files=(), symlinks=()):
    """A .tar.gz with ``files`` (name, bytes) and ``symlinks`` (name, target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in symlinks:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


STAR = b'data_\nloop_\n_rlnImageName #1\n1@Particles/MRC_0601/001.mrcs\n'
MAP = b'MAP \x00\x01\x02\x03'
RIBOSOME_TAR = make_tar([
    ('relion_benchmark/Particles/shiny_2sets.star', STAR),
    ('relion_benchmark/Particles/MRC_0601/001.mrcs', random.Random(0).randbytes(200_000)),
    ('relion_benchmark/emd_2660.map', MAP),
])


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.state`` files with single-range support and index pages."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        wanted = self.headers.get('Range')
        state.requests.append((self.path, wanted))
        if state.busy.get(self.path):
            state.busy[self.path] -= 1
            return self._send(503, b'busy', 'text/plain')
        if self.path in state.pages:
            return self._send(200, state.pages[self.path].encode(), 'text/html')
        body = state.files.get(self.path)
        if body is None:
            return self._send(404, b'not found', 'text/plain')
        match = re.fullmatch(r'bytes=(\d+)-', wanted or '')
        if not match or state.ignore_range:
            return self._send(200, body, drop=state.drop.pop(self.path, state.cap))
        start = int(match[1])
        if start >= len(body):
            return self._send(416, b'', headers={'Content-Range': f'bytes */{len(body)}'})
        return self._send(206, body[start:], drop=state.cap, headers={
            'Content-Range': f'bytes {start}-{len(body) - 1}/{len(body)}'})

    def _send(self, code, body, ctype='application/octet-stream', headers=None, drop=None):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body[:drop] if drop else body)   # drop: hang up after that many


class Server:
    """A threaded HTTP server on 127.0.0.1 and what it saw."""

    def __init__(self):
        self.reset()
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self.httpd.state = self
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def reset(self):
        self.files, self.pages, self.drop, self.busy, self.requests = {}, {}, {}, {}, []
        self.ignore_range, self.cap = False, None

    def paths(self):
        return [path for path, _ in self.requests]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(wget, 'WAITRETRY_S', 0)
    monkeypatch.setattr(wget, 'TIMEOUT_S', 5)


@pytest.fixture(scope='module')
def wget_installed():
    """The downloads go through GNU Wget: without it these tests fail, saying so."""
    if not shutil.which('wget'):
        pytest.fail('wget is not installed: apt-get install wget')


@pytest.fixture(scope='module')
def _server(wget_installed):
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def server(_server):
    _server.reset()
    return _server


@pytest.fixture
def ribosome(server, monkeypatch):
    """The server holds the fake benchmark tarball; the catalogue knows its digest."""
    server.files[ARCHIVE] = RIBOSOME_TAR
    entry = replace(catalogue.SOURCES['relion-benchmark'], sha256=sha256(RIBOSOME_TAR),
                    size=len(RIBOSOME_TAR))
    monkeypatch.setitem(catalogue.SOURCES, 'relion-benchmark', entry)
    return server


def run(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def fetch_ribosome(capsys, server, dest, *extra):
    return run(capsys, 'relion-benchmark', '--dest', dest, '--base-url', server.url, *extra)


def assert_unpacked(dest):
    bench = dest / 'relion-benchmark'
    assert (bench / 'Particles' / 'shiny_2sets.star').read_bytes() == STAR
    assert (bench / 'emd_2660.map').read_bytes() == MAP
    leftovers = [p.name for p in dest.iterdir() if p.name != 'relion-benchmark']
    assert leftovers == []


def test_download_and_unpack(ribosome, tmp_path, capsys):
    rc, out, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert (rc, err) == (0, '')
    assert_unpacked(tmp_path)
    assert 'sha256 ok' in out
    assert ribosome.requests == [(ARCHIVE, None)]
    assert len(out.splitlines()) < 8


def test_keep_archive(ribosome, tmp_path, capsys):
    rc, _, _ = fetch_ribosome(capsys, ribosome, tmp_path, '--keep-archive')
    assert rc == 0
    assert (tmp_path / 'relion_benchmark.tar.gz').read_bytes() == RIBOSOME_TAR


def test_resume_sends_range(ribosome, tmp_path, capsys):
    half = len(RIBOSOME_TAR) // 2
    (tmp_path / 'relion_benchmark.tar.gz.part').write_bytes(RIBOSOME_TAR[:half])
    rc, out, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert (rc, err) == (0, '')
    assert ribosome.requests == [(ARCHIVE, f'bytes={half}-')]
    assert 'resuming' in out and 'sha256 ok' in out
    assert_unpacked(tmp_path)


def test_server_ignoring_range_is_read_past(ribosome, tmp_path, capsys):
    """A 200 to a Range request: wget reads past the bytes it has and appends the rest."""
    ribosome.ignore_range = True
    half = len(RIBOSOME_TAR) // 2
    (tmp_path / 'relion_benchmark.tar.gz.part').write_bytes(RIBOSOME_TAR[:half])
    rc, out, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert (rc, err) == (0, '')
    assert ribosome.requests == [(ARCHIVE, f'bytes={half}-')]
    assert 'ignored the resume request' in out and 'sha256 ok' in out
    assert_unpacked(tmp_path)


def test_junk_part_is_caught_by_the_checksum(ribosome, tmp_path, capsys):
    """wget trusts a .part as a prefix; a junk one fails the checksum, is deleted, and the
    re-run downloads the file again."""
    ribosome.ignore_range = True
    half = len(RIBOSOME_TAR) // 2
    (tmp_path / 'relion_benchmark.tar.gz.part').write_bytes(b'x' * half)
    rc, _, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert 'checksum mismatch' in err and 're-run' in err
    assert list(tmp_path.iterdir()) == []
    rc, _, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert (rc, err) == (0, '')
    assert ribosome.requests[-1] == (ARCHIVE, None)
    assert_unpacked(tmp_path)


def test_dropped_connection_is_resumed(ribosome, tmp_path, capsys):
    ribosome.drop[ARCHIVE] = 5000
    rc, out, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert (rc, err) == (0, '')
    assert ribosome.requests == [(ARCHIVE, None), (ARCHIVE, 'bytes=5000-')]
    assert 'retrying' in out
    assert_unpacked(tmp_path)


def test_progress_lines(ribosome, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, 'PROGRESS_EVERY_S', 0)
    rc, out, _ = fetch_ribosome(capsys, ribosome, tmp_path)
    assert rc == 0
    total = re.escape(progress.human(len(RIBOSOME_TAR)))
    assert re.search(rf'^  relion_benchmark.tar.gz: [\d.]+ KiB of {total} \(\d+%\), ', out,
                     re.MULTILINE)


def test_corrupt_archive(server, tmp_path, capsys):
    junk = random.Random(1).randbytes(5000)
    server.files[ARCHIVE] = junk
    rc, _, err = fetch_ribosome(capsys, server, tmp_path, '--sha256', sha256(junk))
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert 'cannot unpack' in err and 'delete the archive' in err


def test_busy_server_is_retried(ribosome, tmp_path, capsys):
    ribosome.busy[ARCHIVE] = 2
    rc, out, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert (rc, err) == (0, '')
    assert ribosome.requests == [(ARCHIVE, None)] * 3
    assert out.count('HTTP 503') == 2 and 'retrying (try 3 of 4)' in out
    assert_unpacked(tmp_path)


def test_progress_outlasts_wgets_tries(ribosome, tmp_path, capsys):
    """Every response is cut short: wget gives up after its tries, but the file grew, so
    another wget run follows until it is whole."""
    ribosome.cap = 30_000
    rc, out, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert (rc, err) == (0, '')
    ranges = [wanted for _, wanted in ribosome.requests]
    assert ranges == [None] + [f'bytes={n}-' for n in range(30_000, len(RIBOSOME_TAR),
                                                            30_000)]
    assert len(ranges) > wget.TRIES and 'starting it again' in out
    assert_unpacked(tmp_path)


def test_server_size_differs_from_catalogue(ribosome, tmp_path, capsys, monkeypatch):
    entry = replace(catalogue.SOURCES['relion-benchmark'], size=len(RIBOSOME_TAR) + 1)
    monkeypatch.setitem(catalogue.SOURCES, 'relion-benchmark', entry)
    rc, _, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert f'server reports {len(RIBOSOME_TAR)} bytes' in err and '--sha256' in err


def test_part_longer_than_remote_restarts(ribosome, tmp_path, capsys):
    """With no size known, a .part longer than the file (416) is dropped and fetched anew."""
    part = tmp_path / 'relion_benchmark.tar.gz.part'
    part.write_bytes(RIBOSOME_TAR * 2)
    rc, out, err = fetch_ribosome(capsys, ribosome, tmp_path, '--sha256', sha256(RIBOSOME_TAR))
    assert (rc, err) == (0, '')
    assert ribosome.requests == [(ARCHIVE, f'bytes={2 * len(RIBOSOME_TAR)}-'), (ARCHIVE, None)]
    assert 'restarting' in out
    assert_unpacked(tmp_path)


def test_complete_part_answered_416(ribosome, tmp_path, capsys):
    """With no size known, a whole .part gets 416 from the server and counts as done."""
    (tmp_path / 'relion_benchmark.tar.gz.part').write_bytes(RIBOSOME_TAR)
    rc, _, err = fetch_ribosome(capsys, ribosome, tmp_path, '--sha256', sha256(RIBOSOME_TAR))
    assert (rc, err) == (0, '')
    assert ribosome.requests == [(ARCHIVE, f'bytes={len(RIBOSOME_TAR)}-')]
    assert_unpacked(tmp_path)


def test_checksum_mismatch(ribosome, tmp_path, capsys):
    wrong = 'ab' * 32
    rc, _, err = fetch_ribosome(capsys, ribosome, tmp_path, '--sha256', wrong)
    assert rc == 1
    assert len(err.strip().splitlines()) == 1
    assert 'relion_benchmark.tar.gz' in err and wrong in err and sha256(RIBOSOME_TAR) in err
    assert list(tmp_path.iterdir()) == []


def test_rerun_downloads_nothing(ribosome, tmp_path, capsys):
    assert fetch_ribosome(capsys, ribosome, tmp_path)[0] == 0
    seen = len(ribosome.requests)
    rc, out, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert (rc, err) == (0, '')
    assert len(ribosome.requests) == seen
    assert 'nothing to do' in out


def test_dry_run_changes_nothing(ribosome, tmp_path, capsys):
    rc, out, _ = fetch_ribosome(capsys, ribosome, tmp_path / 'data', '--dry-run')
    assert rc == 0
    assert f'{ribosome.url}{ARCHIVE}' in out and 'would unpack' in out
    assert ribosome.requests == [] and not (tmp_path / 'data').exists()


@pytest.mark.parametrize('data_filter', [True, False], ids=['data-filter', 'fallback'])
@pytest.mark.parametrize('evil', [
    {'files': [('../evil.txt', b'pwned')]},
    {'files': [('/tmp/evil.txt', b'pwned')]},
    {'symlinks': [('relion_benchmark/link', '/etc/passwd')]},
    {'symlinks': [('relion_benchmark/link', '../../evil.txt')]},
], ids=['dotdot', 'absolute', 'abs-link', 'rel-link'])
def test_escaping_member_refused(server, tmp_path, capsys, monkeypatch, evil, data_filter):
    monkeypatch.setattr(unpack, 'HAS_DATA_FILTER', data_filter and unpack.HAS_DATA_FILTER)
    bad = make_tar(**evil)
    server.files[ARCHIVE] = bad
    dest = tmp_path / 'data'
    rc, _, err = fetch_ribosome(capsys, server, dest, '--sha256', sha256(bad))
    assert rc == 1
    assert len(err.strip().splitlines()) == 1 and 'refusing to unpack' in err
    assert sorted(p.name for p in dest.iterdir()) == ['relion_benchmark.tar.gz']
    assert not (tmp_path / 'evil.txt').exists() and not (dest / 'evil.txt').exists()


def _index(*names):
    links = ''.join(f'<tr><td><a href="{n}">{n}</a></td></tr>\n' for n in names)
    return (f'<html><body><h1>Index</h1><table><tr><th><a href="?C=N;O=D">Name</a></th></tr>\n'
            f'{links}</table><a href="https://www.ebi.ac.uk/empiar/">EMPIAR</a></body></html>')


@pytest.fixture
def empiar(server):
    """A fake EMPIAR entry: two data files in nested folders and an md5sum file."""
    a, b = b'movie' * 1000, b'data_\n_rlnX 1\n'
    server.pages.update({
        ENTRY: _index('/empiar/world_availability/', 'data/'),
        ENTRY + 'data/': _index('../', 'a.mrc', 'sub/', 'checksums.md5'),
        ENTRY + 'data/sub/': _index('../', 'b.star'),
    })
    server.files.update({
        ENTRY + 'data/a.mrc': a,
        ENTRY + 'data/sub/b.star': b,
        ENTRY + 'data/checksums.md5': f'{md5(a)}  a.mrc\n{md5(b)}  ./sub/b.star\n'.encode(),
    })
    return server


def fetch_empiar(capsys, server, dest, *extra):
    return run(capsys, 'empiar-10338', '--dest', dest, '--base-url', server.url, *extra)


def test_empiar_index_walk(empiar, tmp_path, capsys):
    rc, out, err = fetch_empiar(capsys, empiar, tmp_path)
    assert (rc, err) == (0, '')
    entry = tmp_path / 'empiar-10338' / 'data'
    assert (entry / 'a.mrc').read_bytes() == empiar.files[ENTRY + 'data/a.mrc']
    assert (entry / 'sub' / 'b.star').read_bytes() == empiar.files[ENTRY + 'data/sub/b.star']
    assert (entry / 'checksums.md5').exists()
    assert '2 of 2 with a known md5' in out and out.count('md5 ok') == 2
    assert not any(p.name.endswith('.part') for p in tmp_path.rglob('*'))
    assert '/empiar/world_availability/' not in empiar.paths()     # parent link not followed

    empiar.requests.clear()
    rc, out, _ = fetch_empiar(capsys, empiar, tmp_path)
    assert rc == 0 and '0 downloaded' in out
    assert [p for p in empiar.paths() if p not in empiar.pages] == []


def test_empiar_md5_mismatch(empiar, tmp_path, capsys):
    empiar.files[ENTRY + 'data/sub/b.star'] = b'corrupted'
    rc, _, err = fetch_empiar(capsys, empiar, tmp_path)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert 'b.star' in err and md5(b'corrupted') in err
    assert not list((tmp_path / 'empiar-10338' / 'data' / 'sub').iterdir())


def test_empiar_dry_run_lists_files(empiar, tmp_path, capsys):
    rc, out, _ = fetch_empiar(capsys, empiar, tmp_path, '--dry-run')
    assert rc == 0 and out.count('would download') == 3
    assert not (tmp_path / 'empiar-10338').exists()


def test_empiar_missing_entry(server, tmp_path, capsys):
    rc, _, err = fetch_empiar(capsys, server, tmp_path)
    assert rc == 1 and 'HTTP 404' in err and len(err.strip().splitlines()) == 1
    assert len(server.requests) == 1                                 # a 404 is not retried


def unused_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_unreachable_server(tmp_path, capsys, wget_installed):
    port = unused_port()
    rc, _, err = run(capsys, 'relion-benchmark', '--dest', tmp_path, '--base-url',
                     f'http://127.0.0.1:{port}', '--sha256', '0' * 64)
    assert rc == 1
    assert len(err.strip().splitlines()) == 1
    assert f'127.0.0.1:{port}{ARCHIVE}' in err and 're-run' in err
    assert 'Connection refused (4 attempts)' in err
    assert list(tmp_path.iterdir()) == []


def test_wget_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path / 'bin'))
    rc, _, err = run(capsys, 'relion-benchmark', '--dest', tmp_path / 'data', '--base-url',
                     f'http://127.0.0.1:{unused_port()}', '--sha256', '0' * 64)
    assert rc == 1
    assert err == 'fetch-dataset: error: wget is not installed: apt-get install wget ' \
                  '(dnf install wget on RHEL)\n'


@pytest.mark.parametrize('version', ['GNU Wget2 2.1.0 - multithreaded metalink/file/website '
                                     'downloader', ''], ids=['wget2', 'busybox'])
def test_wget_not_gnu_wget_1(tmp_path, capsys, monkeypatch, version):
    fake = tmp_path / 'bin' / 'wget'
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "{version}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv('PATH', str(fake.parent))
    rc, _, err = run(capsys, 'relion-benchmark', '--dest', tmp_path / 'data', '--base-url',
                     f'http://127.0.0.1:{unused_port()}', '--sha256', '0' * 64)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert f'{fake} is {version or "not GNU Wget"}' in err and 'GNU Wget 1.x' in err


def test_disk_full(ribosome, tmp_path, capsys):
    part = tmp_path / 'relion_benchmark.tar.gz.part'
    part.symlink_to('/dev/full')
    rc, _, err = fetch_ribosome(capsys, ribosome, tmp_path)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert f'cannot write {part}' in err and 'No space left on device' in err
    assert 'free some space' in err


def test_wget_command():
    argv = wget.command('https://example.org/a.tar', Path('/d/a.tar.part'), resume=True)
    assert argv[0] == 'wget' and argv[-2:] == ['--', 'https://example.org/a.tar']
    assert {'--continue', '--output-document=/d/a.tar.part', '--tries=4',
            '--retry-connrefused', '--server-response'} <= set(argv)
    assert '--continue' not in wget.command('ftp://h/a', Path('p'), resume=False)


@pytest.mark.parametrize('argv', [
    ['no-such-dataset', '--dest', 'x'],
    ['relion-benchmark'],
    ['relion-benchmark', '--dest', 'x', '--sha256', 'xyz'],
    ['empiar-10338', '--dest', 'x', '--sha256', '0' * 64],
    ['relion-benchmark', '--dest', 'x', '--base-url', 'not-a-url'],
])
def test_usage_errors(argv, capsys):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err


def test_rebase_keeps_path():
    url = catalogue.SOURCES['relion-benchmark'].url
    assert catalogue.rebase(url, 'http://127.0.0.1:8/mirror/') == \
        'http://127.0.0.1:8/mirror/pub/scheres/relion_benchmark.tar.gz'


def test_checksum_table_formats():
    table = index.ChecksumTable()
    table.add('data/MD5SUMS.txt', f'{"1" * 32}  ./movies/m1.tif\n{"2" * 32} *m2.tif\n')
    table.add('data/x/y.mrc.md5', '3' * 32 + '\n')
    table.add('bsd.md5', f'MD5 (data/z.star) = {"4" * 32}\n')
    assert table.lookup('data/movies/m1.tif') == '1' * 32
    assert table.lookup('data/m2.tif') == '2' * 32
    assert table.lookup('data/x/y.mrc') == '3' * 32
    assert table.lookup('data/z.star') == '4' * 32
    assert table.lookup('data/other.tif') is None
    assert index.is_checksum_file('checksums.md5') and index.is_checksum_file('md5sums.txt')
    assert not index.is_checksum_file('a.mrc')


class FTPServer:
    """A minimal anonymous FTP server on 127.0.0.1 (PASV, SIZE, REST, RETR) and what it saw.

    ``drop[path] = n``: the next RETR of ``path`` sends n bytes, then both connections close.
    """

    def __init__(self):
        self.files, self.drop, self.commands = {}, {}, []
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.url = f'ftp://127.0.0.1:{self.sock.getsockname()[1]}'
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self):
        self.sock.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        state = {'cwd': '/', 'rest': 0, 'passive': None}
        with conn, conn.makefile('rb') as lines:
            conn.sendall(b'220 test\r\n')
            for raw in lines:
                cmd, _, arg = raw.decode().strip().partition(' ')
                self.commands.append(f'{cmd.upper()} {arg}'.strip())
                reply = self._command(cmd.upper(), arg, state, conn)
                if reply is None:
                    return                                  # hung up
                conn.sendall(f'{reply}\r\n'.encode())

    def _command(self, cmd, arg, state, conn):
        path = posixpath.normpath(posixpath.join(state['cwd'], arg))
        simple = {'USER': '331 password please', 'PASS': '230 logged in', 'TYPE': '200 ok',
                  'SYST': '215 UNIX Type: L8', 'PWD': f'257 "{state["cwd"]}"'}
        if cmd in simple:
            return simple[cmd]
        if cmd == 'CWD':
            state['cwd'] = path
            return '250 ok'
        if cmd == 'SIZE':
            return f'213 {len(self.files[path])}' if path in self.files else '550 no such file'
        if cmd == 'PASV':
            state['passive'] = socket.create_server(('127.0.0.1', 0))
            port = state['passive'].getsockname()[1]
            return f'227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})'
        if cmd == 'REST':
            state['rest'] = int(arg)
            return f'350 restarting at {arg}'
        if cmd == 'RETR' and path in self.files:
            body, cut = self.files[path][state['rest']:], self.drop.pop(path, None)
            conn.sendall(b'150 sending\r\n')
            with state['passive'] as passive, passive.accept()[0] as data:
                data.sendall(body[:cut] if cut else body)
            state['rest'] = 0
            return None if cut else '226 done'
        return '550 no such file' if cmd == 'RETR' else '502 not implemented'


@pytest.fixture
def ftp(monkeypatch, wget_installed):
    srv = FTPServer()
    srv.files[ARCHIVE] = RIBOSOME_TAR
    entry = replace(catalogue.SOURCES['relion-benchmark'], sha256=sha256(RIBOSOME_TAR),
                    size=len(RIBOSOME_TAR))
    monkeypatch.setitem(catalogue.SOURCES, 'relion-benchmark', entry)
    yield srv
    srv.close()


def retrs(ftp):
    """The RETR commands the FTP server saw, each with the REST before it (None if none)."""
    seen, rest = [], None
    for command in ftp.commands:
        if command.startswith('REST '):
            rest = int(command.split()[1])
        elif command.startswith('RETR '):
            seen.append(rest)
            rest = None
    return seen


def test_ftp_download(ftp, tmp_path, capsys):
    rc, out, err = fetch_ribosome(capsys, ftp, tmp_path)
    assert (rc, err) == (0, '')
    assert retrs(ftp) == [None] and 'sha256 ok' in out
    assert_unpacked(tmp_path)


def test_ftp_resume_uses_rest(ftp, tmp_path, capsys):
    half = len(RIBOSOME_TAR) // 2
    target = tmp_path / 'relion_benchmark.tar.gz'
    target.with_name(target.name + '.part').write_bytes(RIBOSOME_TAR[:half])
    remote = catalogue.Remote(f'{ftp.url}{ARCHIVE}', target, sha256=sha256(RIBOSOME_TAR),
                              size=len(RIBOSOME_TAR))
    assert download.download(remote)
    assert retrs(ftp) == [half]
    assert target.read_bytes() == RIBOSOME_TAR
    assert 'resuming at' in capsys.readouterr().out


def test_ftp_interrupted_transfer_is_resumed(ftp, tmp_path, capsys):
    ftp.drop[ARCHIVE] = 5000
    rc, out, err = fetch_ribosome(capsys, ftp, tmp_path)
    assert (rc, err) == (0, '')
    assert retrs(ftp) == [None, 5000]
    assert 'Control connection closed; retrying (try 2 of 4)' in out
    assert_unpacked(tmp_path)


def test_ftp_missing_file(ftp, tmp_path, capsys):
    del ftp.files[ARCHIVE]
    rc, _, err = fetch_ribosome(capsys, ftp, tmp_path)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert f'{ftp.url}{ARCHIVE}' in err and 'check the dataset id' in err
    assert list(tmp_path.iterdir()) == []
    assert retrs(ftp) == [None]                                     # not retried


def test_script_runs_from_anywhere(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run([sys.executable, str(ROOT / 'scripts' / 'fetch-dataset'),
                           'relion-benchmark', '--dest', str(tmp_path), '--dry-run'],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert 'ftp://ftp.mrc-lmb.cam.ac.uk/pub/scheres/relion_benchmark.tar.gz' in proc.stdout
