"""Progress lines on stdout: sizes in readable units, at most one line per transfer every 30 s."""

import time
from pathlib import Path

PROGRESS_EVERY_S = 30.0         # seconds between progress lines


def log(msg):
    """A progress line on stdout."""
    print(msg, flush=True)


def human(n):
    """``n`` bytes, readable."""
    if n is None:
        return 'unknown size'
    size = float(n)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if size < 1024:
            return f'{size:.0f} {unit}' if unit == 'B' else f'{size:.1f} {unit}'
        size /= 1024
    return f'{size:.1f} TiB'


def file_size(path: Path):
    """The size of ``path`` in bytes, 0 if it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class Progress:
    """Occasional progress lines for one transfer, from how much of it is on disk."""

    def __init__(self, name, total, done):
        self.name, self.total, self.done = name, total, done
        self.start_done, self.start = done, time.monotonic()
        self.last = self.start

    def update(self, done):
        """``done`` bytes are on disk now; log a line if the last one is old enough."""
        self.done = done
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            rate = (self.done - self.start_done) / max(now - self.start, 1e-6)
            pct = f' ({100 * self.done / self.total:.0f}%)' if self.total else ''
            log(f'  {self.name}: {human(self.done)} of {human(self.total)}{pct}, '
                f'{human(max(rate, 0))}/s')
