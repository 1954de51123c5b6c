"""The benchmarks' local ClickHouse server: started for a run, stopped after it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spur.dev.local_store import LocalStore
from spur.local_state import RunningStore
from spur.settings import parse_store_url
from spur_sinks.store import ServerStore


@contextmanager
def local_store(directory: Path, *databases: str) -> Iterator[RunningStore]:
    """A local store serving ``directory`` (its writer may create ``databases``)."""
    server = LocalStore(directory, databases=databases or ("spur",))
    running = server.start()
    try:
        yield running
    finally:
        server.stop()


def writer(running: RunningStore, database: str) -> ServerStore:
    return ServerStore(parse_store_url(running.url(database=database)), 120.0)


def stop_on_sigterm() -> None:
    """SIGTERM stops a benchmark as Ctrl-C does: the broker, store and workers
    it started are stopped by its cleanups, not left running."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
