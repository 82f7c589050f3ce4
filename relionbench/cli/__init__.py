"""The ``relionbench`` command."""

import argparse
import sys

from relionbench.cli import (
    builds,
    containers,
    longrun,
    mini,
    pipeline,
    references,
    results,
    validate,
)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='relionbench', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    for module in (builds, references, results, longrun, containers, mini, validate, pipeline):
        module.add(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
