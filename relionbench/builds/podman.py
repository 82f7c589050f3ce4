"""Podman, the OCI runtime that builds and runs the suite's images (this module builds them;
relionbench.run.podman runs them) where there is no
Apptainer (this machine, CI).

Podman is called by its name (a ``docker`` client that talks to no daemon may come first on
PATH) with ``runc`` and the ``cgroupfs`` manager (``crun`` fails on hybrid cgroups), and
with explicit ``nofile``/``nproc`` limits no higher than the host's (runc cannot raise them).
The base of a recipe is made here when missing: a minimal Debian root file system from
``debootstrap``, imported as ``BASE``, which replaces the recipe's ``From:`` image
(``podman build --from``): no registry is needed.
"""

import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

from relionbench.builds import recipes

GLOBAL = ('--runtime', 'runc', '--cgroup-manager', 'cgroupfs')
BASE = 'localhost/relionbench-base:bookworm'
SUITE, MIRROR = 'bookworm', 'http://deb.debian.org/debian'
NPROC = 4096


def command(*args):
    """``podman`` with the global options this machine needs."""
    return ['podman', *GLOBAL, *map(str, args)]


def limits():
    """``--ulimit`` options: the host's open files, NPROC processes (at most the host's)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    procs = min(NPROC, resource.getrlimit(resource.RLIMIT_NPROC)[0])
    return ['--ulimit', f'nofile={soft}:{hard}', '--ulimit', f'nproc={procs}:{procs}']


def available():
    """The podman executable, or None."""
    return shutil.which('podman')


def exists(reference):
    return subprocess.run(command('image', 'exists', reference)).returncode == 0


def make_base(reference=BASE, suite=SUITE, mirror=MIRROR):
    """``debootstrap --variant=minbase`` of ``suite``, imported as ``reference``; returns the
    exit status (the first that failed)."""
    with tempfile.TemporaryDirectory(prefix='relionbench-rootfs.') as root:
        print(f'+ debootstrap --variant=minbase {suite} {root} {mirror}', flush=True)
        status = subprocess.run(['debootstrap', '--variant=minbase', suite, root, mirror],
                                stdout=subprocess.DEVNULL).returncode
        if status:
            return status
        tar = subprocess.Popen(['tar', '-C', root, '-c', '.'], stdout=subprocess.PIPE)
        status = subprocess.run(command('import', '-', reference), stdin=tar.stdout,
                                stdout=subprocess.DEVNULL).returncode
        return tar.wait() or status


def reference(definition, build_args=()):
    """``localhost/<recipe>:<RELION version>`` (a ``RELION_VERSION=`` build argument wins)."""
    version = dict(a.partition('=')[::2] for a in build_args).get(recipes.VERSION_ARG,
                                                                    definition.version)
    return f'localhost/{definition.name}:{version}'


def build(definition, build_args=(), base=BASE):
    """Build ``definition`` from its Dockerfile render (scripts, no heredocs) on ``base``
    (made when missing). Returns (exit status, image reference)."""
    ref = reference(definition, build_args)
    if not exists(base):
        status = make_base(base)
        if status:
            return status, ref
    with tempfile.TemporaryDirectory(prefix='relionbench-build.') as context:
        scripts = {}
        (Path(context) / 'Containerfile').write_text(recipes.dockerfile(definition, scripts))
        for name, text in scripts.items():
            (Path(context) / name).write_text(text)
        args = ['build', '--network', 'host', *limits(), '--from', base, '-t', ref,
                '-f', f'{context}/Containerfile']
        for arg in build_args:
            args += ['--build-arg', arg]
        print('+', ' '.join(command(*args, context)), flush=True)
        return subprocess.run(command(*args, context)).returncode, ref


def digest(reference):
    """The image's ``sha256:...`` digest ('' when podman does not know it)."""
    out = subprocess.run(command('image', 'inspect', '--format', '{{.Digest}}', reference),
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ''
