"""Podman as a ReFrame container platform: runs a job's RELION in an OCI image where there
is no Apptainer (this machine, CI); relionbench.builds.podman builds the images."""

import shlex
from pathlib import Path

from reframe.core.containers import ContainerPlatform

from relionbench.builds.podman import command, limits
from relionbench.constants import STEPS_DIR

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

    One container per node of the job (started by ``emit_prepare_commands`` on every node
    of the job; removed on each when the job script exits), and
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
            f'rb_remove_containers() {{ {remove} >/dev/null 2>&1; }}',
            'rb_at_exit rb_remove_containers',
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


def _on_each_node(script, args=''):
    """The job script's line that runs ``sh -c SCRIPT "$RB_CONTAINER" ARGS`` on every node
    (``rb_nodes``, relionbench.run.nodes, which the job script defines first)."""
    return f'rb_nodes sh -c {shlex.quote(script)} "$RB_CONTAINER" {args}'.rstrip()
