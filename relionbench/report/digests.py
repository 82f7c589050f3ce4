"""Which figures of a report need drawing: a report into a folder that holds one already
redraws only the figures whose digest (what a figure shows, and the code that draws it)
changed, or whose file is gone. ``plots/digests.json`` keeps {figure file: digest}.

The code is every module a figure's bytes depend on: relionbench.report.figures and each
relionbench module it takes something from, directly or through another (svgpanels, colours,
results.changes, ...; relionbench.sources.closure), and matplotlib's version."""

import hashlib
import json
from importlib import metadata
from pathlib import Path

import pandas as pd

from relionbench import sources

DIGESTS = 'digests.json'
"""{figure file: digest of what it shows}, in the folder of the figures."""
DRAWS = 'relionbench.report.figures'
"""The module that draws the figures (relionbench.report.workers.draw_figure runs it)."""


class Digests:
    """The figures of one folder: what each showed when it was drawn, and what it shows now."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self._code = code()
        try:
            self._before = json.loads((self.folder / DIGESTS).read_text())
        except (OSError, ValueError):
            self._before = {}
        self._now = {}

    def stale(self, name, figure, data):
        """Whether figure file ``name`` (figure ``figure`` of ``data``) must be drawn."""
        self._now[name] = now = self.digest(figure, data)
        return self._before.get(name) != now or not (self.folder / name).exists()

    def save(self, drawn):
        """Keep the digests of the figure files there now: ``drawn`` is {name: path, or None
        where the figure had nothing to show} of those drawn this time, the others were kept.
        Returns the paths of the figure files there."""
        there = {name: now for name, now in self._now.items() if drawn.get(name, True)}
        (self.folder / DIGESTS).write_text(json.dumps(there))
        return {self.folder / name for name in there}

    def digest(self, figure, data):
        """What a figure shows: its name, its data and the code that draws it."""
        rows = pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes()
        return hashlib.sha1(figure.encode() + self._code + rows).hexdigest()


def code(module=DRAWS):
    """A digest of the code that draws the figures: the source of ``module`` and of every
    relionbench module it takes something from (relionbench.sources.closure, read, not
    imported: the parent process never imports matplotlib), by name, not where it lies,
    and the version of matplotlib."""
    found = hashlib.sha1(metadata.version('matplotlib').encode())
    for name, path in sources.closure(module).items():
        text = path.read_bytes()
        found.update(f'\n{name} {len(text)}\n'.encode() + text)
    return found.digest()
