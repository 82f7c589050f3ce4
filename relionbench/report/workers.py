"""The report's worker processes: started before anything heavy is imported, so that they are
ready by the time the results are read; ``draw_figure`` is what they run to draw a figure."""

import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor


class Workers:
    """Processes that draw the figures, one per core, with ``submit`` and ``with`` as a
    ProcessPoolExecutor's. On Linux they are forked from a server that imports matplotlib and
    ruptures once while the parent reads the results; work submitted before they are up
    waits in a queue here, so that the parent never waits for them to start."""

    PRELOAD = ('relionbench.report.figures', 'ruptures')

    def __init__(self, workers=None):
        if sys.platform == 'linux':
            context = multiprocessing.get_context('forkserver')
            context.set_forkserver_preload(list(self.PRELOAD))
        else:
            context = multiprocessing.get_context('spawn')
        self._count = workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(self._count, mp_context=context)
        self._lock, self._queued, self._ready = threading.Lock(), [], False
        self._starting = threading.Thread(target=self._start, daemon=True)
        self._starting.start()

    def _start(self):
        for _ in range(self._count):    # each starts a process: waits for the server's imports
            self._pool.submit(int)
        with self._lock:
            self._ready = True
            for future, call in self._queued:
                _chain(self._pool.submit(*call), future)

    def submit(self, *call):
        with self._lock:
            if self._ready:
                return self._pool.submit(*call)
            future = Future()
            self._queued.append((future, call))
            return future

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._starting.join()
        self._pool.shutdown()


def draw_figure(figure, data, path):
    """Draw ``figure`` of ``data`` into ``path`` (relionbench.report.figures.draw), in a worker.
    figures is imported here, not at the top: it brings matplotlib (0.4 s), which the workers'
    server has preloaded (PRELOAD) and the parent, which only submits this, never needs."""
    from relionbench.report import figures
    return figures.draw(figure, data, path)


def _chain(source, target):
    source.add_done_callback(lambda done: target.set_exception(done.exception())
                             if done.exception() else target.set_result(done.result()))
