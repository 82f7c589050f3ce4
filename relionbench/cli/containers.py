"""``relionbench containers``: the RELION container recipes in containers/."""

import sys


def _recipes(args):
    """The recipes named on the command line (all by default), or a one-line error (None)."""
    from relionbench.builds import recipes
    try:
        return recipes.recipes(args.names)
    except (OSError, ValueError) as err:
        print(f'relionbench containers: {err}', file=sys.stderr)
        return None


def _print_problems(outcomes):
    """Print ``name + (ok or failed)`` and the problems under each; 1 when any has one."""
    failed = False
    for name, problems, ok, bad in outcomes:
        print(name + (bad if problems else ok))
        for problem in problems:
            print(f'  {problem}')
        failed = failed or bool(problems)
    return 1 if failed else 0


def cmd_containers_list(args):
    import pandas as pd
    found = _recipes(args)
    if found is None:
        return 1
    print(pd.DataFrame([{'recipe': d.name, 'backend': d.backend, 'RELION': d.version,
                         'base image': d.base, 'image': d.image} for d in found])
          .to_string(index=False))
    return 0


def cmd_containers_check(args):
    from relionbench.builds import recipes
    found = _recipes(args)
    if found is None:
        return 1
    return _print_problems((f'{d.path.name}: ', recipes.problems(d), 'ok', 'FAILED')
                           for d in found)


def cmd_containers_render(args):
    from relionbench.builds import recipes
    found = _recipes(args)
    if found is None:
        return 1
    return _print_problems((str(path), problems, '', ': does not re-parse')
                           for path, problems in (recipes.render(d, args.out)
                                                  for d in found))


def cmd_containers_build(args):
    import shlex

    from relionbench.builds import recipes
    found = _recipes(args)
    if found is None:
        return 1
    if args.runtime == 'podman':
        return _build_with_podman(found, args.build_arg)
    program = recipes.runtime()
    if program is None:
        print('relionbench containers build: neither apptainer nor singularity is in PATH; '
              'install Apptainer >= 1.2 or SingularityCE >= 4 (for --build-arg) and run:',
              file=sys.stderr)
        for definition in found:
            print(shlex.join(recipes.build_command(definition, args.out, args.build_arg)))
        return 2
    for definition in found:
        status = recipes.build(definition, args.out, args.build_arg, program)
        if status:
            print(f'relionbench containers build: {definition.name} failed (exit status '
                  f'{status})', file=sys.stderr)
            return status
    return 0


def _build_with_podman(found, build_args):
    """Build each recipe with podman; the last line printed is the last image's reference."""
    from relionbench.builds import podman
    if not podman.available():
        print('relionbench containers build: podman is not in PATH; install it (Debian: '
              'apt-get install podman runc debootstrap)', file=sys.stderr)
        return 2
    for definition in found:
        status, reference = podman.build(definition, build_args)
        if status:
            print(f'relionbench containers build: {definition.name} failed with podman (exit '
                  f'status {status})', file=sys.stderr)
            return status
        print(reference)
    return 0


def add(sub):
    """Add this module's commands to the ``relionbench`` parser."""
    from relionbench.builds import recipes
    con = sub.add_parser('containers', help='the RELION container recipes in containers/')
    con_sub = con.add_subparsers(dest='containers_command', required=True)
    commands = {
        'list': (cmd_containers_list, 'list the recipes'),
        'check': (cmd_containers_check, 'validate sections, labels and build flags '
                  '(exit status 1 on a problem)'),
        'render': (cmd_containers_render, 'write the Docker equivalent of each recipe'),
        'build': (cmd_containers_build, 'build the images with apptainer or singularity '
                  '(exit status 2 when neither is installed)'),
    }
    for name, (func, help_text) in commands.items():
        command = con_sub.add_parser(name, help=help_text)
        command.add_argument('names', nargs='*', metavar='RECIPE',
                             help=f'recipe name, e.g. relion-cuda or cuda (default: all in '
                             f'{recipes.RECIPES})')
        command.set_defaults(func=func)
        if name == 'render':
            command.add_argument('--out', default='dockerfiles',
                                 help='folder to write (default: dockerfiles/)')
        if name == 'build':
            command.add_argument('--out', default='images',
                                 help='folder for the .sif images (default: images/)')
            command.add_argument('--build-arg', action='append', default=[],
                                 metavar='NAME=VALUE',
                                 help=f'e.g. {recipes.VERSION_ARG}=5.0.1 (repeatable)')
            command.add_argument('--runtime', choices=('apptainer', 'podman'),
                                 default='apptainer',
                                 help='apptainer (or singularity): a .sif under --out; podman: '
                                 'an OCI image, its base made with debootstrap when missing; '
                                 'prints the image reference last')
