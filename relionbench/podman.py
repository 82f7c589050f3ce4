"""Podman, the OCI runtime that builds and runs the suite's images where there is no
Apptainer (this machine, CI).

Podman is called by its name (a ``docker`` client that talks to no daemon may come first on
PATH) with ``runc`` and the ``cgroupfs`` manager (``crun`` fails on hybrid cgroups), and
with explicit ``nofile``/``nproc`` limits no higher than the host's (runc cannot raise them).
The base of a recipe is made here when missing: a minimal Debian root file system from
``debootstrap``, imported as ``BASE``, which replaces the recipe's ``From:`` image
(``podman build --from``): no registry is needed.
"""

import resource
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from reframe.core.containers import ContainerPlatform

from relionbench import containers
from relionbench.constants import STEPS_DIR

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
    version = dict(a.partition('=')[::2] for a in build_args).get(containers.VERSION_ARG,
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
        (Path(context) / 'Containerfile').write_text(containers.dockerfile(definition, scripts))
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


PLATFORM = 'Podman'
"""The partition's ``container_platforms`` type that selects ``Platform`` (ReFrame knows no
podman platform; its Docker one calls ``docker``)."""
FEATURE = 'podman'
"""The feature of a partition that runs images with podman."""
ERROR = 'container.error'
"""The file (in the steps folder) that says why the job's container did not start."""
PASSED = ('OMPI_*', 'PMIX_*', 'OPAL_*', 'SLURM_*', 'OMP_*', 'TMPDIR')
"""Host variables each container sees: the launcher's (each rank joins its MPI job), the
threads'."""


class Platform(ContainerPlatform):
    """Runs a job's RELION in an image with podman as Apptainer runs it on a cluster: the
    host's launcher starts the ranks and each runs in the image, with host network, IPC, PID
    and UTS namespaces (the ranks of one MPI job find each other; RELION and the probe see
    the node's name), the launcher's variables, the bind points at their own paths plus the
    temporary folder (Open MPI's session directory), the working folder set.

    One container per node of the job (started by ``emit_prepare_commands``, through srun
    on every node when the job has several; removed on each when the job script exits), and
    every rank and step ``podman exec``'d into its own node's: runc cannot run a container
    without a cgroup of its own, and in a cgroup per rank ``sched_yield`` only yields inside
    it, so relion_refine_mpi's polling leader took a third of the CPU from its followers
    (Refine3D_Local's refine 38.0 s against 32.3 s native here; 31.6 s exec'd into one
    container). A node's container is ``$RB_CONTAINER-<node>``, ``$RB_CONTAINER`` named after
    the stage folder and the job shell's PID."""

    name = '"$RB_CONTAINER"'
    probe_inside = True
    """RELION runs under conmon, not as the child of what launched ``podman exec``: the
    suite's memory probe must run in the image beside it."""

    def emit_prepare_commands(self, stagedir):
        """Start the job's containers, or fail the job with podman's own error on one line
        in ``rb_steps/container.error`` (the check's sanity reports it)."""
        mounts = [*self.mount_points, ('${TMPDIR:-/tmp}', '${TMPDIR:-/tmp}')]
        if self.mount_stagedir:
            mounts.append((stagedir, self.mount_stagedir))
        run = ' '.join([
            shlex.join(command('run', '-d', '--rm', '--network', 'host', '--ipc', 'host',
                               '--pid', 'host', '--uts', 'host', *limits())),
            *(f'-v "{src}":"{dst}"' for src, dst in mounts), *self.options])
        start = _on_each_node(f'exec "$@" --name {NODE_CONTAINER} {self.image} sleep infinity',
                              run)
        rm = shlex.join(command('rm', '-f', '-t', '0'))
        remove = _on_each_node(f'exec {rm} {NODE_CONTAINER}')
        error = f'{STEPS_DIR}/{ERROR}'
        return [
            f'RB_CONTAINER=relionbench-{Path(stagedir).name}-$$',
            ON_EACH_NODE,
            f'rb_remove_containers() {{ {remove} >/dev/null 2>&1; }}',
            "trap rb_remove_containers EXIT",
            f'if ! {start} >{STEPS_DIR}/container.log 2>&1; then',
            f'    echo "podman could not start a container from {self.image}: '
            f'$(grep . {STEPS_DIR}/container.log | tail -n 1)" >{error}',
            f'    cat {error} >&2; exit 1',
            'fi',
        ]

    def launch_command(self, stagedir):
        """``sh -c`` that execs the line in the container of the node it runs on."""
        super().launch_command(stagedir)
        words = shlex.join(command('exec', *(f'--env={name}' for name in PASSED)))
        workdir = f' -w {self.workdir}' if self.workdir else ''
        script = f'exec {words}{workdir} {NODE_CONTAINER} "$@"'
        return f'sh -c {shlex.quote(script)} {self.name} {self.command or ""}'


NODE_CONTAINER = '"$0-$(uname -n)"'
"""In the ``sh -c`` scripts, given ``$RB_CONTAINER`` as ``$0``: the container on this node."""
ON_EACH_NODE = ('rb_on_each_node() { if [ "${SLURM_JOB_NUM_NODES:-1}" -gt 1 ]; then '
                'srun -N "$SLURM_JOB_NUM_NODES" -n "$SLURM_JOB_NUM_NODES" --ntasks-per-node=1 '
                '"$@"; else "$@"; fi; }')
"""A job script's function that runs a command once on every node of the job."""


def _on_each_node(script, args=''):
    """The job script's line that runs ``sh -c SCRIPT "$RB_CONTAINER" ARGS`` on every node."""
    return f'rb_on_each_node sh -c {shlex.quote(script)} "$RB_CONTAINER" {args}'.rstrip()
