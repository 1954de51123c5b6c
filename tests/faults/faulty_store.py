"""Fault injection at the store boundary, for the outage tests (never in production code).

:class:`FaultyStore` fails every store call with a retriable
:class:`spur_sinks.store.StoreError` while a file exists, as if ClickHouse
were down; the real store underneath is untouched. This is how the outage
tests take the store away from one worker while the server stays up for the
other tests. :class:`FaultyWriter` opens it the way the worker opens its
store (spur.store_access.StoreOpener); tests/faults/faulty_worker.py runs the
real worker with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spur.settings import Settings
from spur.store_access import open_writer
from spur_sinks.store import Store, StoreError
from spur_sinks.store_errors import NETWORK_ERROR
from tests.store_hooks import HookedStore


class FaultyStore(HookedStore):
    def __init__(self, inner: Store, fault_file: Path) -> None:
        super().__init__(inner)
        self._fault_file = fault_file

    def before(self, kind: str, sql: str) -> None:
        if self._fault_file.exists():
            raise StoreError(f"injected outage: {self._fault_file} exists", code=NETWORK_ERROR)


@dataclass(frozen=True)
class FaultyWriter:
    """The writer's store, failing while ``fault_file`` exists; a plain value, so that
    the worker's spawned actions processes receive it too."""

    fault_file: Path

    def __call__(self, settings: Settings) -> Store:
        return FaultyStore(open_writer(settings), self.fault_file)
