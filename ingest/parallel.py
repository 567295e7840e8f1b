"""A bounded process pool: results come back as they finish, with at most `window` jobs in flight.

`imap_unordered` would let fast workers pile results up in the parent's memory while it is busy writing;
here a new job is handed out only when a result has been taken. The pool is forked before the caller opens
DuckDB (forking a process that holds DuckDB's threads is not safe), and workers ignore SIGINT so that
Ctrl-C reaches the parent alone, which rolls back and stops them. Worker processes never import pandas.
"""

from __future__ import annotations

import importlib.abc
import multiprocessing
import queue
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Self


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Makes `import pandas` fail with ImportError, as if it were not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (not imported in ingest workers)", name=name)
        return None


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # pyarrow imports pandas on its first conversion of a Python list, only to learn that the list is not a
    # pandas object: about 0.2 s of CPU in every worker. Workers never use pandas, so a worker forked from
    # a process without it is kept from importing it (pyarrow then takes it as absent).
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())


class WorkerPool:
    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool = None
        if self.workers > 1:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self._pool = multiprocessing.get_context(method).Pool(self.workers, initializer=_start_worker)

    def run(self, function: Callable[[Any], Any], jobs: Iterable[Any], window: int | None = None) -> Iterator[Any]:
        """Results of `function(job)` in completion order (in job order with one worker)."""
        if self._pool is None:
            for job in jobs:
                yield function(job)
            return
        window = window or self.workers * 2
        done: queue.Queue[tuple[bool, Any]] = queue.Queue()
        pending = 0
        source = iter(jobs)
        exhausted = False

        def submit() -> bool:
            nonlocal pending
            try:
                job = next(source)
            except StopIteration:
                return False
            self._pool.apply_async(function, (job,), callback=lambda r: done.put((True, r)),  # type: ignore[union-attr]
                                   error_callback=lambda e: done.put((False, e)))
            pending += 1
            return True

        while pending < window and not exhausted:
            exhausted = not submit()
        while pending:
            ok, value = done.get()
            pending -= 1
            if not ok:
                raise value
            if not exhausted:
                exhausted = not submit()
            yield value

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def terminate(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.terminate()
