"""Billing months in zones whose offset is not a whole hour, exact to the millisecond.

Asia/Kolkata (+05:30) starts December at 2026-11-30T18:30:00Z, Asia/Kathmandu
(+05:45) at 18:15:00Z: the month's edge hours are split, and each action must
land in the month of its started_at in that zone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from spur.local_state import RunningStore
from spur.operations.billing import billing
from spur.settings import Settings, parse_store_url
from spur.worker.batch import batch_steps
from spur_schemas.events import Action
from spur_schemas.validate import encode
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import ServerStore, Store
from spur_streams.batch import Message

UTC = dt.UTC


def action(n: int, customer: int, started: dt.datetime) -> Action:
    return Action(
        action_id=uuid.UUID(int=n + 1), action="doc.export", customer_id=customer,
        login="ann", session_id=f"s{n}", started_at=started,
        ended_at=started + dt.timedelta(milliseconds=5), bytes_in=n + 1, bytes_out=1000 * (n + 1),
        client_ip="203.0.113.7",
    )  # fmt: skip


EDGES = [
    # Around the start of December in Kolkata and Kathmandu, to the millisecond.
    dt.datetime(2026, 11, 30, 18, 14, 59, 999_000, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 18, 15, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 18, 29, 59, 999_000, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 18, 30, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 18, 40, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 18, 59, 59, 999_000, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 19, 0, tzinfo=UTC),
    # Around the start of November (IST 2026-11-01 00:00 = 10-31 18:30Z).
    dt.datetime(2026, 10, 31, 18, 29, 59, 999_000, tzinfo=UTC),
    dt.datetime(2026, 10, 31, 18, 30, tzinfo=UTC),
    dt.datetime(2026, 11, 15, 12, 0, tzinfo=UTC),
]


def expected(actions: list[Action], month: str, zone: str) -> dict[int, tuple[int, int, int]]:
    totals: dict[int, tuple[int, int, int]] = {}
    for a in actions:
        if a.started_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m") == month:
            i, o, n = totals.get(a.customer_id, (0, 0, 0))
            totals[a.customer_id] = (i + a.bytes_in, o + a.bytes_out, n + 1)
    return totals


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "UTC"])
@pytest.mark.parametrize("month", ["2026-10", "2026-11", "2026-12"])
def test_both_month_edges_are_exact(store: Store, zone: str, month: str) -> None:
    actions = [action(n, 7 + n % 2, started) for n, started in enumerate(EDGES)]
    apply_migrations(store, Settings().retention.tables)
    now = dt.datetime(2026, 12, 2, tzinfo=UTC)
    batch_steps(store, Settings()).process_actions(
        [Message("spur.actions.v1", 0, n, encode(a)) for n, a in enumerate(actions)], now
    )
    got = {u.customer_id: (u.bytes_in, u.bytes_out, u.actions) for u in billing(store, month, zone)}
    assert got == expected(actions, month, zone)


def test_the_billing_account_bills_the_edges(
    store: Store, local_store: RunningStore, database: str
) -> None:
    """`spur billing` reads as the `billing` account, which must see every table it sums."""
    actions = [action(n, 7 + n % 2, started) for n, started in enumerate(EDGES)]
    apply_migrations(store, Settings().retention.tables)
    batch_steps(store, Settings()).process_actions(
        [Message("spur.actions.v1", 0, n, encode(a)) for n, a in enumerate(actions)],
        dt.datetime(2026, 12, 2, tzinfo=UTC),
    )
    as_billing = ServerStore(parse_store_url(local_store.url("billing", database)), 30.0)
    try:
        got = {u.customer_id: (u.bytes_in, u.bytes_out, u.actions)
               for u in billing(as_billing, "2026-12", "Asia/Kolkata")}  # fmt: skip
    finally:
        as_billing.close()
    assert got == expected(actions, "2026-12", "Asia/Kolkata")
