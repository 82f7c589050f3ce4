"""The ``relionbench`` command."""

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from reframe.utility.sanity import reference_bounds

from relionbench import references


def references_table(system):
    """One row per reference metric: the value, the absolute band ReFrame will apply, source."""
    rows = []
    for entry in references.load(system):
        for name, spec in entry.metrics.items():
            value, lower, upper, unit = references.thresholds(name, spec, entry)
            low, high = reference_bounds(value, lower, upper)
            rows.append({'workflow': entry.workflow, 'stage': entry.stage,
                         'variant': entry.variant, 'scale': entry.scale,
                         'partition': entry.partition, 'metric': name, 'value': value,
                         'min': f'{low:.6g}', 'max': f'{high:.6g}', 'unit': unit,
                         'source': entry.source})
    return pd.DataFrame(rows)


def cmd_derive(args):
    """YAML references from repeat runs' ReFrame reports (median, tolerance from the spread)."""
    import json

    import yaml

    from relionbench import timing
    runs = []
    for report in args.derive:
        cases = json.loads(Path(report).read_text())['runs'][0]['testcases']
        # a run that missed a reference is still a measurement; one that failed earlier is not
        runs.append({c['display_name'].split(' /')[0]: timing.perf(c) for c in cases
                     if '%case=' in c['display_name'] and
                     (c['result'] == 'pass' or c.get('fail_phase') == 'performance')})
    print(yaml.safe_dump(references.derive(runs, args.system, args.source), sort_keys=False,
                         width=100), end='')
    return 0


def cmd_references(args):
    if args.derive:
        return cmd_derive(args)
    try:
        table = references_table(args.system)
    except references.ReferenceError as err:
        print(f'relionbench: {err}', file=sys.stderr)
        return 1
    if table.empty:
        print(f'no references for system {args.system!r} '
              f'(looked for {references.REFERENCE_DIR / (args.system + ".yaml")})')
        return 0
    if args.stage:
        table = table[table.stage == args.stage]
    print(table.to_csv(index=False) if args.csv else table.to_string(index=False))
    return 0


def cmd_mini_generate(args):
    from relionbench import miniature
    start = time.perf_counter()
    try:
        miniature.prepare(Path(args.out), seed=args.seed)
    except (OSError, RuntimeError) as err:
        print(f'relionbench mini generate: {err}', file=sys.stderr)
        return 1
    print(f'prepared {Path(args.out).resolve()} in {time.perf_counter() - start:.1f} s')
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog='relionbench', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    ref = sub.add_parser('references', help='print the references applied on a system')
    ref.add_argument('--system', required=True, help='system name, e.g. scarf')
    ref.add_argument('--stage', help='only this stage, e.g. Class2D')
    ref.add_argument('--csv', action='store_true', help='CSV instead of a table')
    ref.add_argument('--derive', nargs='+', metavar='REPORT',
                     help='print YAML references derived from repeat runs (ReFrame run reports)')
    ref.add_argument('--source', default='repeat runs', help='source text for --derive')
    ref.set_defaults(func=cmd_references)
    mini = sub.add_parser('mini', help='the synthetic miniature dataset')
    mini_sub = mini.add_subparsers(dest='mini_command', required=True)
    gen = mini_sub.add_parser('generate', help='simulate the data and prepare every stage input')
    gen.add_argument('--out', required=True, help='folder to write (created if missing)')
    gen.add_argument('--seed', type=int, default=0, help='simulation seed (default 0)')
    gen.set_defaults(func=cmd_mini_generate)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
