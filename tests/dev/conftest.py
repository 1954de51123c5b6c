"""Fixtures of the local store's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spur.dev.local_store import LocalStore
from spur.dev.store_engine import has_own_network
from spur.local_state import RunningStore


@pytest.fixture
def gated_store(tmp_path: Path) -> Iterator[RunningStore]:
    """A store of the test's own behind its gate (skipped where the engine cannot
    have a network of its own)."""
    server = LocalStore(tmp_path / "store")
    running = server.start()
    try:
        if not has_own_network(running.protection):
            pytest.skip(f"the store is not behind its gate here: {running.protection}")
        yield running
    finally:
        server.stop()
