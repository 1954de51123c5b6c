"""Operator views: retention conformity, dead letters, pipeline status.

Blocking reads of the store (through the worker if it owns the embedded
store) and, for status, of the broker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sinks.store import Store, StoreError, sql_string
from spur.client.kafka import KafkaTarget
from spur.settings import Settings

# One day of grace: TTL merges run hourly, and parts merge when they can.
TTL_GRACE = dt.timedelta(days=1)


@dataclass(frozen=True)
class RetentionRule:
    table: str
    column: str
    days: int | None  # None: kept until erasure (the ledger and audit are proof)
    why: str


def retention_rules(settings: Settings) -> list[RetentionRule]:
    return [
        RetentionRule("actions", "started_at", settings.actions_retention_days, "clause 3.4"),
        RetentionRule("usage_hourly", "hour", settings.actions_retention_days, "clause 3.4"),
        RetentionRule(
            "billing_periods", "period_start", settings.actions_retention_days, "clause 3.4"
        ),
        RetentionRule("action_ids", "started_at", settings.actions_retention_days, "clause 3.4"),
        RetentionRule("usage_sums", "hour", settings.actions_retention_days, "clause 3.4"),
        RetentionRule("usage_quarters", "quarter", settings.actions_retention_days, "clause 3.4"),
        RetentionRule(
            "erased_subjects",
            "erased_at",
            settings.actions_retention_days,
            "erasure tombstones, as long as earlier data could be accepted",
        ),
        RetentionRule("web_requests", "ts", settings.web_retention_days, "clause 3.1"),
        RetentionRule("form_submissions", "ts", settings.forms_retention_days, "clause 3.3"),
        RetentionRule("dead_letters", "at", settings.dead_letter_retention_days, "debugging"),
        RetentionRule(
            "capacity_minutely", "minute", settings.capacity_retention_days, "no personal data"
        ),
        RetentionRule(
            "capacity_states", "minute", settings.capacity_retention_days, "no personal data"
        ),
        RetentionRule("consent_log", "ts", None, "proof of consent (clause 3.6), until erasure"),
        RetentionRule("erasure_log", "erased_at", None, "audit of erasures, salted hashes only"),
    ]


def retention_report(store: Store, settings: Settings) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    report = []
    for rule in retention_rules(settings):
        row = store.query(
            f"SELECT count() AS rows, toUnixTimestamp(min({rule.column})) AS oldest "
            f"FROM {store.database}.{rule.table}"
        )[0]
        rows = int(row["rows"])
        oldest = dt.datetime.fromtimestamp(int(row["oldest"]), dt.UTC) if rows else None
        age_days = round((now - oldest).total_seconds() / 86400, 1) if oldest else None
        conforms = (
            rule.days is None
            or oldest is None
            or now - oldest <= dt.timedelta(days=rule.days) + TTL_GRACE
        )
        report.append(
            {
                "table": rule.table,
                "policy_days": rule.days,
                "policy": rule.why,
                "rows": rows,
                "oldest": oldest.isoformat() if oldest else None,
                "oldest_age_days": age_days,
                "conforms": conforms,
            }
        )
    return report


def dead_letter_report(
    store: Store, reason: str | None, since: dt.datetime | None, limit: int = 20
) -> dict[str, Any]:
    conditions = ["1"]
    if reason:
        conditions.append(f"reason = {sql_string(reason)}")
    if since:
        conditions.append(f"at >= toDateTime64({int(since.timestamp())}, 3, 'UTC')")
    where = " AND ".join(conditions)
    table = f"{store.database}.dead_letters FINAL"
    counts = store.query(
        f"SELECT reason, count() AS n FROM {table} WHERE {where} GROUP BY reason ORDER BY n DESC"
    )
    recent = store.query(
        # Not `toString(at) AS at`: the alias would shadow the column in WHERE.
        f"SELECT toString(dead_letters.at) AS at_text, topic, partition, offset, reason, detail, "
        f"field FROM {table} WHERE {where} ORDER BY dead_letters.at DESC LIMIT {int(limit)}"
    )
    return {
        "counts": {row["reason"]: int(row["n"]) for row in counts},
        "total": sum(int(row["n"]) for row in counts),
        "recent": [{"at": row.pop("at_text"), **row} for row in recent],
    }


def table_status(store: Store) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT table, sum(rows) AS rows, toString(max(modification_time)) AS last_insert "
        f"FROM system.parts WHERE database = '{store.database}' AND active "
        "GROUP BY table ORDER BY table"
    )
    return [
        {"table": r["table"], "rows": int(r["rows"]), "last_insert": r["last_insert"]} for r in rows
    ]


def broker_status(bootstrap: KafkaTarget | None, group: str, topics: list[str]) -> dict[str, Any]:
    from aiokafka.errors import KafkaError

    from spur.broker import consumer_lag

    if bootstrap is None:
        return {"reachable": False, "error": "no broker configured (SPUR_KAFKA_BOOTSTRAP)"}
    try:
        lag = asyncio.run(asyncio.wait_for(consumer_lag(bootstrap, group, topics), 15))
    except (KafkaError, TimeoutError, OSError) as exc:
        error = str(exc) or type(exc).__name__
        return {"reachable": False, "bootstrap": str(bootstrap), "error": error}
    return {"reachable": True, "bootstrap": str(bootstrap), "consumer_lag": lag}


def store_status(store: Store) -> dict[str, Any]:
    try:
        return {"reachable": True, "tables": table_status(store)}
    except StoreError as exc:
        if exc.code == 81:  # reachable, but no worker has created spur's tables yet
            return {"reachable": True, "tables": [], "note": str(exc)}
        return {"reachable": False, "error": str(exc)}
