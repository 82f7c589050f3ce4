"""``relionbench pipeline``: a GitLab child pipeline, one job per stage and build."""

import argparse
import sys
from pathlib import Path

from relionbench import systems
from relionbench.choices import not_one_of


def cmd_pipeline(args):
    from relionbench.run import pipeline
    name = args.system.partition(':')[0]
    if name not in systems():
        print(f'relionbench pipeline: {not_one_of("--system", name, systems())}',
              file=sys.stderr)
        return 2
    options = args.options[1:] if args.options[:1] == ['--'] else args.options
    try:
        text = pipeline.child(args.system, options, args.tag)
    except ValueError as err:
        print(f'relionbench pipeline: {err}', file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_text(text)
        print(f'relionbench pipeline: {text.count("scripts/nightly --run-only")} job(s) and '
              f'the report in {args.out}', file=sys.stderr)
    else:
        print(text, end='')
    return 0


def add(sub):
    """Add this module's commands to the ``relionbench`` parser."""
    pipe = sub.add_parser('pipeline', help='write a GitLab child pipeline: one job per stage '
                          'and build on SYSTEM, then the report and one alert')
    pipe.add_argument('--system', required=True, help='SYSTEM or SYSTEM:PARTITION, e.g. scarf')
    pipe.add_argument('--tag', help='the runner tag every job asks for (e.g. scarf-login)')
    pipe.add_argument('--out', help='file to write (default: standard output)')
    pipe.add_argument('options', nargs=argparse.REMAINDER,
                      help='reframe options after --: selection (-n, -x, -p, -t, ...) picks '
                      'the jobs; -S settings go to every job')
    pipe.set_defaults(func=cmd_pipeline)
