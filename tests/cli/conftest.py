"""The commands as a user runs them, against the real local store (tests/conftest.py).

``cli`` points SPUR_CLICKHOUSE_URL at the test's own database (migrated) and
runs commands through the public root group, ``spur.cli.main``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.events import Action
from spur_schemas.validate import encode
from spur_sinks.capacity import refresh_capacity
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from spur_streams.batch import Message

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


def action(n: int, started: dt.datetime, **fields: object) -> Action:
    defaults: dict[str, object] = {
        "action_id": uuid.UUID(int=n + 1), "action": "doc.export", "customer_id": 7,
        "login": "ann", "session_id": "s1", "started_at": started,
        "ended_at": started + dt.timedelta(milliseconds=5), "bytes_in": n + 1,
        "bytes_out": 1000 * (n + 1), "client_ip": "203.0.113.242",
    }  # fmt: skip
    return Action(**{**defaults, **fields})  # type: ignore[arg-type]  # test data


@dataclass
class Cli:
    runner: CliRunner
    store: Store

    def __call__(self, *args: str) -> Result:
        from spur.cli.main import main

        return self.runner.invoke(main, list(args))

    def feed(self, actions: Sequence[Action], raw: Sequence[bytes] = ()) -> None:
        """Through the pipeline, as the worker stores them (bad ``raw`` lines dead-lettered)."""
        bodies = [encode(a) for a in actions] + list(raw)
        # Then the capacity refresh, as the worker does before it commits.
        outcome = batch_steps(self.store, Settings()).process_actions(
            [Message("spur.actions.v1", 0, n, body) for n, body in enumerate(bodies)], NOW
        )
        refresh_capacity(self.store, outcome.capacity)


@pytest.fixture
def cli(store: Store, store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    for name in ("SPUR_BILLING_TIMEZONE", "SPUR_CLICKHOUSE_READ_URL", "SPUR_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPUR_CLICKHOUSE_URL", store_url)
    # reconcile compares what was just fed (tests/cli/test_reconcile_in_flight.py
    # sets it where windows folded into lately are to be left out).
    monkeypatch.setenv("SPUR_RECONCILE_SETTLE_SECONDS", "0")
    monkeypatch.setenv("SPUR_STATE_DIR", str(tmp_path / ".spur"))  # the erasure salt
    apply_migrations(store, Settings().retention.tables)
    return Cli(CliRunner(), store)
