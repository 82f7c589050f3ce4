"""What can be fetched: the catalogue, ``empiar-<N>`` entries and ``--base-url`` mirrors."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from relionbench.data.fetch.errors import UsageError

EMPIAR_URL = 'https://ftp.ebi.ac.uk/empiar/world_availability/{n}/'


@dataclass(frozen=True)
class Source:
    """A dataset the tool knows how to fetch."""

    id: str
    url: str
    description: str
    kind: str = 'archive'       # 'archive': one tarball to unpack; 'index': walk a directory
    sha256: str | None = None
    size: int | None = None
    expect: tuple = ()          # paths the unpacked dataset must contain


SOURCES = {
    # The URL RELION's docs and benchmark users give: only ftp:// is documented, no https.
    # sha256 and size from the Phoronix Test Suite profile pts/relion (downloads.xml).
    'relion-benchmark': Source(
        'relion-benchmark',
        'ftp://ftp.mrc-lmb.cam.ac.uk/pub/scheres/relion_benchmark.tar.gz',
        'Plasmodium 80S ribosome benchmark (EMPIAR-10028 particles), 47.2 GiB tarball',
        sha256='c7d34a1c98ba956aa0a9b4534921c285c07bab4b9bd8ac3ee1604353c6cccd11',
        size=50_671_399_402,
        expect=('Particles/shiny_2sets.star', 'emd_2660.map'),
    ),
}


@dataclass(frozen=True)
class Remote:
    """One file to download and how to check it."""

    url: str
    path: Path
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None


def resolve(dataset):
    """The Source for a dataset id: a catalogue entry or ``empiar-<digits>``."""
    if dataset in SOURCES:
        return SOURCES[dataset]
    match = re.fullmatch(r'empiar-(\d+)', dataset, re.IGNORECASE)
    if match:
        n = match.group(1)
        return Source(f'empiar-{n}', EMPIAR_URL.format(n=n), f'EMPIAR-{n}', kind='index')
    known = ', '.join([*SOURCES, 'empiar-<N>'])
    raise UsageError(f'unknown dataset {dataset!r}; known: {known}')


def rebase(url, base):
    """``url`` with its scheme and server replaced by ``base`` (whose path is prefixed)."""
    new = urllib.parse.urlsplit(base)
    if new.scheme not in ('http', 'https', 'ftp') or not new.netloc:
        raise UsageError(f'--base-url {base!r} must look like https://host[:port][/path]')
    old = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((new.scheme, new.netloc, new.path.rstrip('/') + old.path,
                                    old.query, ''))
