"""Shared helpers: run the suite's own reframe with the suite's configuration, and the
external requirements of the tests.

A test that needs something outside Python says so with ``@pytest.mark.requires('relion')``
(or calls ``require('relion')`` in a fixture). Missing, it is skipped with the reason, unless
the requirement is listed in ``RELIONBENCH_REQUIRE`` (comma-separated, as ``.ci/run`` sets
it): then it fails with the reason. The summary counts the skips for a missing requirement.
"""

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFRAME = Path(sys.executable).parent / 'reframe'
CLUSTER = ROOT / 'scripts' / 'slurm-pseudo-cluster'
CLUSTER_STATE = Path(os.environ.get('RELIONBENCH_SLURM_DIR', '/tmp/relionbench-slurm'))
RELION_PROGRAMS = ('relion_refine', 'relion_refine_mpi', 'relion_run_motioncorr',
                   'relion_preprocess', 'relion_postprocess', 'mpirun')


def _missing_relion():
    missing = [p for p in RELION_PROGRAMS if not shutil.which(p)]
    return (f'RELION is not installed ({", ".join(missing)} not on PATH): '
            'apt-get install relion openmpi-bin' if missing else '')


def _missing_slurm():
    up = subprocess.run([str(CLUSTER), 'status'], capture_output=True).returncode == 0
    return '' if up else 'the Slurm pseudo-cluster is not up: run scripts/slurm-pseudo-cluster up'


def _missing_nodes():
    if _missing_slurm():
        return _missing_slurm()
    state = CLUSTER_STATE / 'nodes'
    count = int(state.read_text()) if state.exists() else 1
    return '' if count >= 2 else (f'the Slurm pseudo-cluster has {count} node: take it down '
                                  'and run scripts/slurm-pseudo-cluster up --nodes 3')


SHARED_RELION = '/opt/relion-5.0.1-altcpu'


def _missing_relion5():
    from relionbench import builds
    version, accelerator = builds.identify(f'{SHARED_RELION}/bin')
    return '' if (version, accelerator) == ('5.0.1', builds.ALTCPU) else (
        f'the shared RELION 5.0.1 build is not installed in {SHARED_RELION}: run '
        '../shared/relion/install (.ci/run does where ../shared/relion exists)')


def _missing_podman():
    from relionbench.builds import podman
    if not podman.available():
        return 'podman is not installed: apt-get install podman runc debootstrap'
    info = subprocess.run(podman.command('info'), capture_output=True, text=True)
    return '' if info.returncode == 0 else f'podman does not work here: {info.stderr.strip()}'


def _missing_chromium():
    import importlib.util
    if not shutil.which('chromium'):
        return 'Chromium is not installed: apt-get install chromium'
    return '' if importlib.util.find_spec('playwright') else (
        'playwright is not installed: pip install -e .[test] (scripts/setup does)')


def _missing_gitlab():
    if not shutil.which('rsync'):
        return ('rsync is not installed (gitlab-ci-local copies the project with it): '
                'apt-get install rsync')
    try:
        ran = subprocess.run(['gitlab-ci-local', '--version'], capture_output=True, text=True)
    except FileNotFoundError:
        return f'gitlab-ci-local is not installed: npm install -g gitlab-ci-local@{GITLAB_CI_LOCAL}'
    return '' if ran.returncode == 0 else (
        f'gitlab-ci-local does not run here ({(ran.stderr.strip().splitlines() or ["?"])[-1]}): '
        f'npm install -g gitlab-ci-local@{GITLAB_CI_LOCAL} (4.74 and later need Node.js 22)')


NVCC = shutil.which('nvcc') or '/usr/local/cuda-13.0/bin/nvcc'
"""CUDA's compiler: on PATH, else where these machines have CUDA 13.0."""


def _missing_cuda():
    return '' if os.access(NVCC, os.X_OK) else (
        f'CUDA\'s nvcc is not installed ({NVCC}): install the CUDA toolkit, or put nvcc on PATH')


GITLAB_CI_LOCAL = '4.73.0'
"""The local GitLab CI runner .ci/run installs (npm), which runs examples/gitlab-ci.yml."""

REQUIREMENTS = {'relion': _missing_relion, 'relion5': _missing_relion5, 'slurm': _missing_slurm,
                'nodes': _missing_nodes, 'podman': _missing_podman, 'chromium': _missing_chromium,
                'gitlab': _missing_gitlab, 'cuda': _missing_cuda}
"""Requirement name -> a function giving why it is missing ('' when present)."""
SKIP_PREFIX = 'missing requirement '
_found = {}
_skipped = []


def required():
    """The requirements RELIONBENCH_REQUIRE makes mandatory."""
    names = [n.strip() for n in os.environ.get('RELIONBENCH_REQUIRE', '').split(',') if n.strip()]
    unknown = sorted(set(names) - set(REQUIREMENTS))
    if unknown:
        raise pytest.UsageError(f'RELIONBENCH_REQUIRE: unknown requirement(s) {", ".join(unknown)};'
                                f' known: {", ".join(REQUIREMENTS)}')
    return names


def missing(name):
    """Why requirement ``name`` is missing, '' when it is present (checked once per run)."""
    if name not in _found:
        _found[name] = REQUIREMENTS[name]()
    return _found[name]


def require(*names):
    """Skip the calling test (or fixture) for a missing requirement, or fail when it is
    required."""
    for name in names:
        reason = missing(name)
        if reason and name in required():
            pytest.fail(f'required by RELIONBENCH_REQUIRE but missing: {name}: {reason}',
                        pytrace=False)
        if reason:
            pytest.skip(f'{SKIP_PREFIX}{name}: {reason}')


GROUPS = {'unit': 'Python only, no reframe session',
          'dryrun': 'reframe lists, dry-runs or loads the configuration; no RELION runs',
          'local': 'real RELION (or Chromium) on this machine',
          'slurm': 'real RELION through the Slurm pseudo-cluster',
          'image': 'real RELION in a podman image'}
"""Each test's group, by what it needs (``scripts/test -m unit``; marked on collection)."""


def pytest_configure(config):
    config.addinivalue_line('markers', 'requires(*names): needs relion and/or slurm '
                            '(skipped without them, failed when RELIONBENCH_REQUIRE lists them)')
    for name, what in GROUPS.items():
        config.addinivalue_line('markers', f'{name}: {what}')
    required()


def group(item):
    """The test's group (``GROUPS``): the heaviest thing it needs."""
    needs = {name for mark in item.iter_markers('requires') for name in mark.args}
    if 'image' in item.fixturenames:
        needs.add('podman')
    if 'podman' in needs:
        return 'image'
    if needs & {'slurm', 'nodes'}:
        return 'slurm'
    if needs & {'relion', 'relion5', 'chromium', 'cuda'}:
        return 'local'
    code = getattr(getattr(item, 'function', None), '__code__', None)
    if 'dry_runs' in item.fixturenames or (code and 'reframe' in code.co_names):
        return 'dryrun'
    return 'unit'


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(group(item))


def pytest_runtest_setup(item):
    for mark in item.iter_markers('requires'):
        require(*mark.args)


def pytest_runtest_logreport(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        if report.longrepr[2].startswith(f'Skipped: {SKIP_PREFIX}'):
            _skipped.append(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    ran = sum(len(stats.get(k, [])) for k in ('passed', 'failed', 'error'))
    absent = [n for n in REQUIREMENTS if missing(n)]
    terminalreporter.write_line(
        f'relionbench: {ran} test(s) ran, {len(_skipped)} skipped for a missing requirement; '
        f'required (RELIONBENCH_REQUIRE): {", ".join(required()) or "none"}; '
        f'missing: {", ".join(absent) or "none"}')


def default_build():
    """The build the tests run on this machine unless they name others: the RELION on PATH
    (its environment name; '' when there is none)."""
    from relionbench import builds
    found = builds.data_tools(builds.discover())
    return found.name if found else ''


def reframe(*args, runs, env=None, timeout=600, prefix=(), build=None):
    """Run reframe from the checkout with results under ``runs``; returns CompletedProcess.
    ``prefix``: a command reframe runs under (e.g. ``taskset -c 0``). On this machine's
    systems (local, ci-slurm) only ``build`` runs (an environment regex; default: the default
    build, and its emulated-GPU twin) unless ``args`` pick builds with ``-p``.

    TMPDIR points there too: ReFrame's bootstrap log (before the configuration is read)
    would otherwise be left in /tmp as rfm-*.log."""
    done = subprocess.run(reframe_command(*args, runs=runs, prefix=prefix, build=build),
                          cwd=ROOT, env=reframe_env(runs, env), capture_output=True,
                          text=True, timeout=timeout)
    assert 'could not log performance data' not in done.stdout + done.stderr, done.stdout[-3000:]
    return done


def reframe_command(*args, runs, prefix=(), build=None):
    """The command line of ``reframe(*args)`` (the default build added on this machine)."""
    calibrate_once()
    (runs / 'tmp').mkdir(parents=True, exist_ok=True)
    here = any(a in ('local', 'ci-slurm') or str(a).startswith(('local:', 'ci-slurm:'))
               for a in args)
    if here and '-p' not in args and default_build():
        args = (*args, '-p', build or f'^{default_build()}(-gpu-emulated)?$')
    return [*prefix, str(REFRAME), '-c', str(ROOT / 'checks'), '-R', *args]


def reframe_env(runs, env=None):
    """The environment of ``reframe(...)``: results under ``runs``, TMPDIR there too."""
    return {**os.environ, 'RFM_CONFIG_FILES': str(ROOT / 'config' / 'settings.py'),
            'RELIONBENCH_RUNS': str(runs), 'TMPDIR': str(runs / 'tmp'), **(env or {})}


@pytest.fixture
def runs(tmp_path):
    return tmp_path / 'runs'


TIME_TOLERANCE = 1.5
"""``-S time_tolerance`` of the runs that must pass whatever else the VM runs: this shared
2-core VM ran clean stages up to 1.8 times their calibrated references in CI; the time
bands themselves are asserted by tests/test_bands.py and test_faults.py."""

CLUSTERS = ('scarf', 'pearl', 'clx', 'icx')
"""The declared cluster systems (config/systems/)."""


_CALIBRATION = {}


@pytest.fixture(scope='session', autouse=True)
def calibration_folder(tmp_path_factory):
    _CALIBRATION['folder'] = tmp_path_factory.mktemp('calibration')


def calibrate_once():
    """The calibration workload timed once per test session, before the first reframe
    session: every Calibration fixture after it takes that time (``speed_from``, through
    ``$RELIONBENCH_CALIBRATION``) and reads its job's usable cores (6 s per partition and
    session otherwise)."""
    if 'file' in _CALIBRATION:
        return
    found = _CALIBRATION['folder'] / 'calibration.json'
    subprocess.run([sys.executable, '-m', 'relionbench.machine.calibration', '--out',
                    str(found)], check=True, capture_output=True)
    _CALIBRATION['file'] = os.environ['RELIONBENCH_CALIBRATION'] = str(found)


@pytest.fixture(scope='session', autouse=True)
def miniature_cache(tmp_path_factory):
    """One miniature per test session: each reframe session copies it from the cache
    (``MiniatureData.cache``) rather than making it again (9 s each here)."""
    os.environ['RELIONBENCH_MINIATURE_CACHE'] = str(tmp_path_factory.mktemp('miniature-cache'))


@pytest.fixture(scope='session')
def dry_runs(tmp_path_factory):
    """{system: (results folder, reframe's output)} of one dry run of every check on each
    cluster system, shared by the tests that read or submit its job scripts."""
    found = {}
    for system in CLUSTERS:
        folder = tmp_path_factory.mktemp(f'dry-{system}')
        result = reframe('--dry-run', '--system', system, runs=folder)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        found[system] = folder, result.stdout
    return found


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """A miniature dataset generated once per module, to copy for the faults that alter it."""
    out = tmp_path_factory.mktemp('mini')
    subprocess.run([sys.executable, '-m', 'relionbench.cli', 'mini', 'generate', '--out',
                    str(out)], check=True, capture_output=True)
    return out


IMAGE = 'localhost/relion-debian:3.1.3'
"""The image of the build the tests run natively (containers/relion-debian.def)."""


@pytest.fixture(scope='session')
def image():
    """``IMAGE``, built with ``relionbench containers build`` when missing (.ci/run builds
    it first, to time it, and removes it at the end)."""
    require('podman')
    from relionbench.builds import podman
    if not podman.exists(IMAGE):
        built = subprocess.run([sys.executable, '-m', 'relionbench.cli', 'containers', 'build',
                                'relion-debian', '--runtime', 'podman'],
                               capture_output=True, text=True)
        assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
        assert built.stdout.splitlines()[-1] == IMAGE
    return IMAGE


@contextlib.contextmanager
def tmpfs_on(nodes, path, size='1m'):
    """An empty tmpfs of ``size`` over ``path`` on those pseudo-cluster nodes alone (in
    their slurmd's mount namespace), as a node's own mount: over the checkout, a node where
    it is not on a shared filesystem; over a folder, a small local disk."""
    pids = [(CLUSTER_STATE / f'slurmd-{n}.pid').read_text().strip() for n in nodes]
    for pid in pids:
        subprocess.run(['nsenter', '--target', pid, '--mount', 'mount', '-t', 'tmpfs', '-o',
                        f'size={size}', 'tmpfs', str(path)], check=True)
    try:
        yield
    finally:
        for pid in pids:
            subprocess.run(['nsenter', '--target', pid, '--mount', 'umount', str(path)])


def stand_in(folder, program, body):
    """An executable ``program`` in ``folder`` running ``body`` (sh; $REAL is the real one)
    in a check's stage folder, and the real program elsewhere (the data generation)."""
    folder.mkdir(exist_ok=True)
    path = folder / program
    path.write_text(f'#!/bin/sh\nREAL={shutil.which(program)}\n'
                    f'[ -d rb_steps ] || exec "$REAL" "$@"\n{body}\n')
    path.chmod(0o755)
    return folder


def slower(beside='', extra=0.0, times=2):
    """A stand-in body: the real program (``beside``, a shell command, running next to it);
    then its first rank moves the job's clock (``clock``) on so that the step is recorded as
    ``times`` as long and ``extra`` seconds more, without the tests waiting for it."""
    date = shutil.which('date')
    lines = [f't0=$({date} +%s.%N)', *([f'{beside} &'] if beside else []),
             '"$REAL" "$@"; rc=$?', 'wait',
             'if [ "${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}" = 0 ]; then',
             f'    awk -v t0="$t0" -v t1="$({date} +%s.%N)" '
             '-v o="$(cat .rb_clock 2>/dev/null || echo 0)" \\',
             f"        'BEGIN {{printf \"%.6f\\n\", o + (t1 - t0) * {times - 1} + {extra}}}' "
             '>.rb_clock.new && mv .rb_clock.new .rb_clock',
             'fi', 'exit $rc']
    return '\n'.join(lines)


def clock(folder):
    """A ``date`` stand-in in ``folder``: in a check's stage folder, the time the job script
    records each step's start and end with, moved on by what ``slower`` stand-ins added."""
    return stand_in(folder, 'date', '\n'.join([
        '[ "$1" = +%s.%N ] || exec "$REAL" "$@"',
        'awk -v t="$("$REAL" +%s.%N)" -v o="$(cat .rb_clock 2>/dev/null || echo 0)" \\',
        "    'BEGIN {printf \"%.9f\\n\", t + o}'"]))
