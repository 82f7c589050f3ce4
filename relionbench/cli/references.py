"""``relionbench references``: the references applied on a system, or derived from repeat runs."""

import sys

from relionbench import systems
from relionbench.choices import not_one_of


def cmd_derive(args):
    """YAML references from repeat runs' ReFrame reports (median, tolerance from the spread),
    with the calibration those runs measured."""
    import yaml

    from relionbench.results import references, timing
    runs, calibrations = timing.repeat_runs(args.derive)
    derived = references.derive(runs, args.system, args.source, calibrations)
    print(yaml.safe_dump(derived, sort_keys=False, width=100), end='')
    return 0


def cmd_references(args):
    from relionbench.results import references
    if args.derive:
        return cmd_derive(args)
    if args.system not in systems():
        print(f'relionbench references: {not_one_of("--system", args.system, systems())}',
              file=sys.stderr)
        return 2
    try:
        table = references.table(args.system)
    except references.ReferenceError as err:
        print(f'relionbench: {err}', file=sys.stderr)
        return 1
    if table.empty:
        print(f'no references for system {args.system!r} '
              f'(looked for {references.REFERENCE_DIR / (args.system + ".yaml")})')
        return 0
    if args.stage:
        if args.stage not in set(table.stage):
            print('relionbench references: '
                  f'{not_one_of("--stage", args.stage, sorted(set(table.stage)))} '
                  f'(the stages with references on {args.system})', file=sys.stderr)
            return 2
        table = table[table.stage == args.stage]
    print(table.to_csv(index=False) if args.csv else table.to_string(index=False))
    return 0


def add(sub):
    """Add this module's commands to the ``relionbench`` parser."""
    ref = sub.add_parser('references', help='print the references applied on a system')
    ref.add_argument('--system', required=True, help='system name, e.g. scarf')
    ref.add_argument('--stage', help='only this stage, e.g. Class2D')
    ref.add_argument('--csv', action='store_true', help='CSV instead of a table')
    ref.add_argument('--derive', nargs='+', metavar='REPORT',
                     help='print YAML references derived from repeat runs (ReFrame run reports)')
    ref.add_argument('--source', default='repeat runs', help='source text for --derive')
    ref.set_defaults(func=cmd_references)
