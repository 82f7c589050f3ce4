"""``relionbench validate``: a system's declaration checked without running anything."""

import sys

from relionbench import systems
from relionbench.choices import not_one_of


def cmd_validate(args):
    from relionbench.run import sitecheck
    if args.system not in systems():
        print(f'relionbench validate: {not_one_of("--system", args.system, systems())}',
              file=sys.stderr)
        return 2
    found, summary = sitecheck.problems(args.system)
    for line in found:
        print(line)
    print(f'{summary}: {"valid" if not found else f"{len(found)} problem(s)"}'
          if summary else f'{args.system}: {len(found)} problem(s)')
    return 1 if found else 0


def add(sub):
    """Add this module's commands to the ``relionbench`` parser."""
    val = sub.add_parser('validate', help='check a system file, its builds, images and '
                         'references without running anything')
    val.add_argument('--system', required=True, help='system name, e.g. scarf')
    val.set_defaults(func=cmd_validate)
