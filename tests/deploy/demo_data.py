"""A small store of demo data, written as the pipeline writes it."""

from __future__ import annotations

import datetime as dt

import msgspec

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.validate import encode
from spur_sinks.capacity import refresh_capacity
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from spur_streams.batch import Message


def load_demo_data(store: Store) -> None:
    """Two days of four customers' actions, their aggregates and one dead letter."""
    apply_migrations(store, Settings().retention.tables)
    now = dt.datetime.now(dt.UTC)
    shape = WorkloadShape(
        customers=4, sessions_per_customer=10, month_start=now - dt.timedelta(days=2), days=2
    )
    actions = simulate_actions(shape)
    messages = [Message("spur.actions.v1", 0, n, encode(a)) for n, a in enumerate(actions)]
    broken = {**msgspec.json.decode(encode(actions[0])), "bytes_in": -1}
    messages.append(Message("spur.actions.v1", 0, len(messages), msgspec.json.encode(broken)))
    outcome = batch_steps(store, Settings()).process_actions(messages, now)
    refresh_capacity(store, outcome.capacity)
