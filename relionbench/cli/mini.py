"""``relionbench mini``: the synthetic miniature dataset."""

import sys
import time
from pathlib import Path


def cmd_mini_generate(args):
    from relionbench.data import miniature, sizes
    start = time.perf_counter()
    try:
        size = sizes.Size.parse(args.size)
    except ValueError as err:
        print(f'relionbench mini generate: --size: {err}', file=sys.stderr)
        return 2
    how = ''
    try:
        if args.cache:
            key, copied = miniature.prepare_cached(Path(args.out), args.cache, args.seed, size)
            how = f', {"copied from" if copied else "kept in"} {Path(args.cache) / key}'
        else:
            miniature.prepare(Path(args.out), seed=args.seed, size=size)
    except (OSError, RuntimeError) as err:
        print(f'relionbench mini generate: {err}', file=sys.stderr)
        return 1
    took = time.perf_counter() - start
    print(f'prepared {Path(args.out).resolve()} (size {size}{how}) in {took:.1f} s')
    return 0


def add(sub):
    """Add this module's commands to the ``relionbench`` parser."""
    mini = sub.add_parser('mini', help='the synthetic miniature dataset')
    mini_sub = mini.add_subparsers(dest='mini_command', required=True)
    gen = mini_sub.add_parser('generate', help='simulate the data and prepare every stage input')
    gen.add_argument('--out', required=True, help='folder to write (created if missing)')
    gen.add_argument('--seed', type=int, default=0, help='simulation seed (default 0)')
    gen.add_argument('--size', default='small',
                     help='BOXxPARTICLES (e.g. 96x440) or small (48x440, the default), '
                     'medium (96x440), large (144x440)')
    gen.add_argument('--cache', help='a folder that keeps miniatures by what made them: copy '
                     'the one made from the same seed, size, suite code and RELION, or make '
                     'it there first')
    gen.set_defaults(func=cmd_mini_generate)
