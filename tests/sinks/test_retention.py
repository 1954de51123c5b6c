"""Retention is enforced by the store: rows past their policy vanish, younger ones stay."""

from __future__ import annotations

import datetime as dt
import uuid

from msgspec.structs import replace

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur_schemas.events import FormSubmission, WebRequest
from spur_schemas.located import Located
from spur_sinks.actions import action_columns
from spur_sinks.columns import form_columns, web_columns
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store

NOW = dt.datetime.now(dt.UTC)


def count(store: Store, table: str) -> int:
    return int(store.query(f"SELECT count() AS n FROM {store.database}.{table}")[0]["n"])


def materialize_ttl(store: Store, table: str) -> None:
    store.execute(
        f"ALTER TABLE {store.database}.{table} MATERIALIZE TTL SETTINGS mutations_sync = 2"
    )


def test_actions_older_than_a_year_are_deleted(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    template = simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1))[0]
    ages = {"old": 366, "young": 364, "new": 1}
    rows = [
        replace(
            template,
            action_id=uuid.uuid4(),
            started_at=NOW - dt.timedelta(days=days),
            ended_at=NOW - dt.timedelta(days=days) + dt.timedelta(seconds=1),
        )
        for days in ages.values()
    ]
    store.insert("actions", action_columns([Located(r, 0, n) for n, r in enumerate(rows)]))
    materialize_ttl(store, "actions")
    assert count(store, "actions") == 2


def test_web_and_form_logs_are_deleted_after_three_months(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    web = [
        WebRequest(
            request_id=uuid.uuid4(), ts=NOW - dt.timedelta(days=days), path="/",
            bytes_sent=1, user_agent="ua", client_ip="::1",
        )
        for days in (93, 91, 1)
    ]  # fmt: skip
    forms = [
        FormSubmission(
            submission_id=uuid.uuid4(), ts=NOW - dt.timedelta(days=days), form="f",
            client_ip="::1", user_agent="ua", screen_resolution="800x600",
        )
        for days in (93, 91, 1)
    ]  # fmt: skip
    store.insert("web_requests", web_columns(web))
    store.insert("form_submissions", form_columns(forms))
    for table in ("web_requests", "form_submissions"):
        materialize_ttl(store, table)
        assert count(store, table) == 2, table


def test_every_table_with_personal_data_has_a_ttl_within_policy(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    tables = {
        row["name"]: row["create_table_query"]
        for row in store.query(
            "SELECT name, create_table_query FROM system.tables "
            f"WHERE database = '{store.database}'"
        )
    }
    limits = {
        "actions": 365, "action_ids": 365, "usage_hourly": 365, "usage_sums": 365,
        "usage_quarters": 365,
        "web_requests": 92, "form_submissions": 92, "dead_letters": 14, "billing_periods": 365,
        "erased_subjects": 365,
    }  # fmt: skip
    for table, days in limits.items():
        assert f"toIntervalDay({days})" in tables[table], table
        assert "merge_with_ttl_timeout = 3600" in tables[table], table
