"""An EMPIAR entry's files: its HTTP directory index walked, and the md5 files it publishes."""

import posixpath
import re
import urllib.parse
from html.parser import HTMLParser
from pathlib import PurePosixPath

from relionbench.data.fetch.errors import FetchError
from relionbench.data.fetch.wget import get_text


class _Links(HTMLParser):
    """The href of every <a> in a page."""

    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == 'a':
            self.hrefs += [v for k, v in attrs if k == 'href' and v]


def list_index(url):
    """(subfolder URLs, file URLs) linked from the directory index page at ``url``."""
    parser = _Links()
    parser.feed(get_text(url))
    folders, files = [], []
    for href in parser.hrefs:
        link = urllib.parse.urljoin(url, href)
        parts = urllib.parse.urlsplit(link)
        if parts.query or not link.startswith(url) or len(link) <= len(url):
            continue                    # sort links, parent folder, other sites
        link = urllib.parse.urlunsplit(parts._replace(fragment=''))
        (folders if link.endswith('/') else files).append(link)
    return sorted(set(folders)), sorted(set(files))


def walk_index(root):
    """Every file URL below the index ``root`` (which ends in '/')."""
    pending, seen, files = [root], set(), []
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        folders, found = list_index(url)
        files += found
        pending += folders
    return sorted(files)


def relative(root, url):
    """The local relative path of ``url`` below ``root``; FetchError if it is unsafe."""
    rel = urllib.parse.unquote(url[len(root):])
    parts = PurePosixPath(rel).parts
    if not parts or rel.startswith('/') or any(p in ('.', '..') for p in parts):
        raise FetchError(f'refusing unsafe path {rel!r} in the index of {root}')
    return rel


_SUMS_NAME = re.compile(r'(^md5sums?\b|\.md5(sums?)?(\.txt)?$)', re.IGNORECASE)
_MD5 = '[0-9a-fA-F]{32}'
_SUM_LINES = (
    re.compile(rf'^(?P<md5>{_MD5})\s+\*?(?P<name>.+?)\s*$'),            # md5sum
    re.compile(rf'^MD5\s*\((?P<name>.+)\)\s*=\s*(?P<md5>{_MD5})\s*$'),  # BSD md5
    re.compile(rf'^(?P<name>.+?)\s+(?P<md5>{_MD5})\s*$'),               # name first
    re.compile(rf'^(?P<md5>{_MD5})\s*$'),                               # bare, for X.md5
)


def is_checksum_file(name):
    """True for md5sum-style files (``*.md5``, ``md5sum*.txt`` ...)."""
    return bool(_SUMS_NAME.search(posixpath.basename(name)))


class ChecksumTable:
    """md5 digests read from an entry's checksum files, looked up by relative path."""

    def __init__(self):
        self.by_path, self.by_name = {}, {}

    def add(self, sums_rel, text):
        """Read the checksum file at ``sums_rel`` (relative to the entry) with ``text``."""
        folder = posixpath.dirname(sums_rel)
        bare = re.sub(r'\.md5$', '', posixpath.basename(sums_rel), flags=re.IGNORECASE)
        for line in text.splitlines():
            match = next((m for p in _SUM_LINES if (m := p.match(line.strip()))), None)
            if not match:
                continue
            md5 = match['md5'].lower()
            name = match.groupdict().get('name') or bare
            while name.startswith('./'):
                name = name[2:]
            for key in (posixpath.normpath(posixpath.join(folder, name)),
                        posixpath.normpath(name)):
                self.by_path.setdefault(key, md5)
            base = posixpath.basename(name)
            self.by_name[base] = md5 if self.by_name.get(base, md5) == md5 else None

    def lookup(self, rel):
        """The md5 for the file at ``rel``, or None."""
        return self.by_path.get(rel) or self.by_name.get(posixpath.basename(rel))
