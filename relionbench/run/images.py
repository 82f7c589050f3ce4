"""How a check runs RELION in a container image: the image chosen for the build and the
partition, and the job script's command line that starts each rank in it (ReFrame's
container platform, or podman's), with the dataset, stage and scratch folders bound at their
own paths."""

import re
import shlex
from pathlib import Path

from reframe.core.containers import ContainerPlatform

from relionbench.builds.podman import digest
from relionbench.builds.recipes import RECIPES
from relionbench.constants import GPU, NATIVE, X_IMAGE_BINDS, X_IMAGE_DIR
from relionbench.run import jobscript, podman, provenance


def choose(check):
    """Set ``check.container_image`` ('' for native) and its digest; skip the check when the
    image is missing, unless a dry run."""
    image_dir = check.current_partition.extras.get(X_IMAGE_DIR, '')
    build_image = check.current_environ.extras.get('relion_image', '')
    image = check.container_image or (
        f'{image_dir}/{build_image}' if image_dir and build_image else '')
    if image == NATIVE or not check.current_partition.container_runtime:
        image = ''
    check.container_image = image
    if not image:
        return
    environ = check.current_partition.container_environs.get(
        check.current_partition.container_runtime)
    if environ:                         # e.g. the module that provides apptainer
        check.modules += list(environ.modules)
        check.env_vars.update(dict(environ.env_vars))
    if '://' in image:
        return
    on_podman = check.current_partition.container_runtime == podman.PLATFORM
    check.container_sha256 = (digest(image).removeprefix('sha256:') if on_podman
                              else provenance.image_sha256(image))
    if not check.container_sha256 and not check.is_dry_run():
        recipe = _recipe(build_image or Path(image).name)
        version = check.current_environ.extras.get('relion_version', '')
        arg = f' --build-arg RELION_VERSION={version}' if version and not on_podman else ''
        build = (f'{recipe} --runtime podman"' if on_podman else
                 f'{recipe}{arg} --out {image_dir or "DIR"}", name another with '
                 '-S container_image=PATH')
        check.skip(f'container image {image} not found: build it with "relionbench '
                   f'containers build {build}, or run natively with '
                   f'-S container_image={NATIVE}')


def _recipe(image):
    """The recipe an image file or reference was built from (``containers/<recipe>.def``)."""
    name = image.removesuffix('.sif').split(':')[0]
    known = sorted((p.stem for p in RECIPES.glob('*.def')), key=len, reverse=True)
    return next((r for r in known if name == r or name.startswith(f'{r}-')), name)


def container_exec(check):
    """``jobscript.InImage`` for ``check``: ``--nv`` for the GPU variant, the memory probe
    bound into the image where the platform runs it there."""
    binds = {str(check.dataset), str(Path(check.dataset).resolve()), check.stagedir}
    mounts = [(_in_double_quotes(p), _in_double_quotes(p)) for p in sorted(binds)]
    if check.scratch:
        mounts.append(('$RB_SCRATCH', '$RB_SCRATCH'))
    mounts += [(_in_double_quotes(p),) * 2
               for p in check.current_partition.extras.get(X_IMAGE_BINDS, [])]
    # a copy: with an image set on the check's own platform, ReFrame would also run the
    # job's final command in the container
    runtime = check.current_partition.container_runtime
    platform = (podman.Platform() if runtime == podman.PLATFORM else
                ContainerPlatform.create_from(runtime, check.container_platform))
    platform.image = shlex.quote(check.container_image)
    platform.mount_points = mounts
    platform.mount_stagedir = None
    platform.workdir = shlex.quote(check.stagedir)
    platform.with_cuda = check.case.variant == GPU

    inside = getattr(platform, 'probe_inside', False)
    if inside:                          # the probe runs in the image (python3 there)
        platform.mount_points.append((_in_double_quotes(str(jobscript.MEASURE.parent)),) * 2)

    def wrap(command):
        platform.command = command
        return platform.launch_command(check.stagedir)
    return jobscript.InImage(wrap, tuple(platform.emit_prepare_commands(check.stagedir)),
                             probe_inside=inside)


def _in_double_quotes(text):
    """``text`` safe inside "...": ReFrame writes bind paths between double quotes."""
    return re.sub(r'(["$`\\])', r'\\\1', str(text))
