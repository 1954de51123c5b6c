"""The embedded store: migrations, inserts and billing on a real chdb engine."""

import datetime as dt
import uuid

from msgspec.structs import replace

from schemas.events import Action
from sinks.actions import Located, action_columns
from sinks.migrate import apply_migrations, migrations, render
from sinks.store import ChdbStore
from spur.billing import billing
from spur.settings import Settings
from spur.simulate import WorkloadShape, simulate_actions


def test_migrations_apply_once(chdb_store: ChdbStore) -> None:
    first = apply_migrations(chdb_store, Settings())
    assert [m.version for m in first] == [m.version for m in migrations()]
    assert apply_migrations(chdb_store, Settings()) == []
    tables = {r["name"] for r in chdb_store.query(
        f"SELECT name FROM system.tables WHERE database = '{chdb_store.database}'"
    )}  # fmt: skip
    assert {"actions", "schema_migrations"} <= tables


def test_retention_is_compiled_into_the_ttl() -> None:
    (statement,) = render(migrations()[0], Settings(actions_retention_days=90), "spur")
    assert "INTERVAL 90 DAY" in statement


def located(actions: list[Action]) -> list[Located]:
    return [Located(a, partition=0, offset=n) for n, a in enumerate(actions)]


def test_billing_counts_a_redelivered_action_once(chdb_store: ChdbStore) -> None:
    apply_migrations(chdb_store, Settings())
    actions = list(simulate_actions(WorkloadShape(customers=3, sessions_per_customer=4)))
    chdb_store.insert("actions", action_columns(located(actions)))
    chdb_store.insert("actions", action_columns(located(actions[:10])))  # a replay
    expected: dict[int, tuple[int, int, int]] = {}
    for a in actions:
        b_in, b_out, n = expected.get(a.customer_id, (0, 0, 0))
        expected[a.customer_id] = (b_in + a.bytes_in, b_out + a.bytes_out, n + 1)
    got = {
        u.customer_id: (u.bytes_in, u.bytes_out, u.actions) for u in billing(chdb_store, "2026-11")
    }
    assert got == expected


def test_sums_do_not_wrap_at_64_bits(chdb_store: ChdbStore) -> None:
    apply_migrations(chdb_store, Settings())
    (template,) = list(simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1)))[:1]
    huge = [replace(template, action_id=uuid.UUID(int=n), bytes_in=2**63 - 1) for n in range(1, 4)]
    chdb_store.insert("actions", action_columns(located(huge)))
    (usage,) = billing(chdb_store, template.started_at.strftime("%Y-%m"))
    assert usage.bytes_in == 3 * (2**63 - 1)


def test_an_action_belongs_to_the_month_of_its_start(chdb_store: ChdbStore) -> None:
    apply_migrations(chdb_store, Settings())
    (template,) = list(simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1)))[:1]
    # Starts 23:30 UTC on 31 October = 00:30 on 1 November in Berlin (CET).
    start = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)
    action = replace(template, started_at=start, ended_at=start + dt.timedelta(hours=1))
    chdb_store.insert("actions", action_columns(located([action])))
    assert [u.actions for u in billing(chdb_store, "2026-10", "UTC")] == [1]
    assert billing(chdb_store, "2026-11", "UTC") == []
    assert [u.actions for u in billing(chdb_store, "2026-11", "Europe/Berlin")] == [1]
    assert billing(chdb_store, "2026-10", "Europe/Berlin") == []
