"""The fetch-dataset command line: options, dataset choice, exit status and the error line."""

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

from relionbench.data.fetch.catalogue import SOURCES, rebase, resolve
from relionbench.data.fetch.errors import FetchError, UsageError
from relionbench.data.fetch.fetchers import fetch_archive, fetch_index

PROG = 'fetch-dataset'


def build_parser():
    """The fetch-dataset argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG, description='Download a RELION benchmark dataset with resume and checksum '
        'verification; re-running skips what is already complete. The transfer is done by '
        'GNU Wget (wget --continue), which must be installed.',
        epilog='datasets: ' + '; '.join(f'{s.id}: {s.description}' for s in SOURCES.values())
        + '; empiar-<N>: every file of EMPIAR entry N (e.g. empiar-10338, aldolase). '
        'Exit status: 0 ok, 1 failure, 2 usage error.')
    parser.add_argument('dataset', help='dataset id, e.g. relion-benchmark or empiar-10338')
    parser.add_argument('--dest', required=True, type=Path, metavar='DIR',
                        help='data root; the dataset goes to DEST/<dataset>')
    parser.add_argument('--base-url', metavar='URL',
                        help='replace scheme://host of the catalogue URL (a mirror or a test '
                        'server); its path is prefixed')
    parser.add_argument('--sha256', metavar='HEX',
                        help='expected sha256 of the download (single-file datasets; replaces '
                        'the catalogue checksum and size)')
    parser.add_argument('--keep-archive', action='store_true',
                        help='keep the tarball after unpacking it')
    parser.add_argument('--dry-run', action='store_true',
                        help='print what would be downloaded, change nothing')
    return parser


def _source_for(args):
    source = resolve(args.dataset)
    if args.sha256:
        if source.kind != 'archive':
            raise UsageError(f'--sha256 applies to single-file datasets, not {source.id}')
        if not re.fullmatch(r'[0-9a-fA-F]{64}', args.sha256):
            raise UsageError(f'--sha256 {args.sha256!r} is not 64 hex digits')
        source = replace(source, sha256=args.sha256.lower(), size=None)
    if args.base_url:
        source = replace(source, url=rebase(source.url, args.base_url))
    return source


def run(args):
    """Fetch the dataset the parsed ``args`` name."""
    source = _source_for(args)
    dest = args.dest.expanduser()
    if source.kind == 'index':
        fetch_index(source, dest, args.dry_run)
    else:
        fetch_archive(source, dest, args.dry_run, args.keep_archive)


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        run(args)
    except UsageError as exc:
        print(f'{PROG}: error: {exc}', file=sys.stderr)
        return 2
    except FetchError as exc:
        print(f'{PROG}: error: {exc}', file=sys.stderr)
        return 1
    except OSError as exc:
        print(f'{PROG}: error: {exc.filename or ""}: {exc.strerror or exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted; re-run the same command to resume', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
