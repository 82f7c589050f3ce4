"""``relionbench builds``: this machine's RELION builds."""

import sys


def cmd_builds(args):
    """The RELION builds of this machine (the local system's environments)."""
    from relionbench import builds
    found = builds.discover()
    default = builds.data_tools(found)
    if args.default:
        if not default:
            print('relionbench builds: no RELION found (relion_refine not on PATH, none in '
                  f'${builds.LISTED} or {builds.OPT}/relion-*)', file=sys.stderr)
            return 1
        print(default.name)
        return 0
    for build in found:
        mark = ' (default; makes the miniature)' if build is default else ''
        gpu = f', CUDA {build.cuda}' if build.cuda else ''
        print(f'{build.name}: RELION {build.version}, {build.accelerator}, {build.fft} FFT, '
              f'{build.isa}{gpu}, {build.prefix or build.bindir}{mark}')
    return 0


def add(sub):
    """Add this module's commands to the ``relionbench`` parser."""
    bld = sub.add_parser('builds', help="this machine's RELION builds (the local system's "
                         'environments; -p NAME picks them)')
    bld.add_argument('--default', action='store_true',
                     help='print only the default build (the one that makes the miniature)')
    bld.set_defaults(func=cmd_builds)
