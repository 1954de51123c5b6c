"""Data subjects: where a customer's or a login's rows are, erasure and export.

Clause 3.4: authorised users may demand deletion of all their data; clause 2:
information requests. One table of predicates says, per table, which rows
reference a subject; erase deletes exactly those and export reads exactly
those, so the two can never disagree about what "all their data" is.

Blocking. ``erase`` needs a writable store (no running worker owning the
embedded store); ``export`` reads through the worker if one runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sinks.store import Store, sql_string

SubjectKind = Literal["customer", "login"]


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    value: str  # customer id as decimal text, or the login

    def sql_value(self) -> str:
        if self.kind == "customer":
            return str(int(self.value))
        return sql_string(self.value)


# Per table: the condition selecting a subject's rows. `{v}` is the SQL value.
# Dead letters hold raw (redacted) originals, so the subject is found in them.
_PREDICATES: dict[SubjectKind, dict[str, str]] = {
    "customer": {
        "actions": "customer_id = {v}",
        "action_ids": "customer_id = {v}",
        "usage_hourly": "customer_id = {v}",
        "usage_sums": "customer_id = {v}",
        "consent_log": "customer_id = {v}",
        "dead_letters": "JSONExtractUInt(original, 'customer_id') = {v}",
        # Closed invoice totals: immutable for spur's commands, not for the subject.
        "billing_periods": "customer_id = {v}",
    },
    "login": {
        "actions": "login = {v}",
        "consent_log": "login = {v}",
        "dead_letters": "JSONExtractString(original, 'login') = {v}",
    },
}


def predicates(subject: Subject) -> dict[str, str]:
    value = subject.sql_value()
    return {table: where.format(v=value) for table, where in _PREDICATES[subject.kind].items()}


def count_rows(store: Store, subject: Subject) -> dict[str, int]:
    """Rows per table that reference the subject (all versions, not FINAL)."""
    counts = {}
    for table, where in predicates(subject).items():
        rows = store.query(f"SELECT count() AS n FROM {store.database}.{table} WHERE {where}")
        counts[table] = int(rows[0]["n"])
    return counts


def logins_of(store: Store, subject: Subject) -> list[str]:
    """The logins whose consent ledger entries belong to the subject (for Kafka tombstones)."""
    if subject.kind == "login":
        return [subject.value]
    rows = store.query(
        f"SELECT DISTINCT login FROM {store.database}.consent_log "
        f"WHERE {predicates(subject)['consent_log']}"
    )
    return [str(row["login"]) for row in rows]


@dataclass(frozen=True)
class Erasure:
    erasure_id: uuid.UUID
    rows_removed: dict[str, int]
    kafka_expires_at: dt.datetime


def subject_hash(subject: Subject, salt: bytes) -> str:
    """The audit log's stand-in for the subject: HMAC-SHA256, hex."""
    message = f"{subject.kind}:{subject.value}".encode()
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def erase(store: Store, subject: Subject, salt: bytes, input_retention_days: int) -> Erasure:
    """Delete the subject's rows everywhere and write the audit record."""
    removed = count_rows(store, subject)
    for table, where in predicates(subject).items():
        if removed[table]:
            store.execute(
                f"DELETE FROM {store.database}.{table} WHERE {where} "
                "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
            )
    now = dt.datetime.now(dt.UTC)
    erasure = Erasure(
        erasure_id=uuid.uuid4(),
        rows_removed=removed,
        kafka_expires_at=now + dt.timedelta(days=input_retention_days),
    )
    store.insert(
        "erasure_log",
        {
            "erased_at": [now],
            "erasure_id": [str(erasure.erasure_id)],
            "subject_kind": [subject.kind],
            "subject_hash": [subject_hash(subject, salt)],
            "rows_removed": [removed],
            "kafka_expires_at": [erasure.kafka_expires_at.replace(microsecond=0)],
        },
    )
    return erasure


# Append-only tables (plain MergeTree): every row is distinct, and FINAL is refused.
_APPEND_ONLY = frozenset({"billing_periods"})


def export(store: Store, subject: Subject) -> Iterator[dict[str, Any]]:
    """Every stored row about the subject, one ``{"table", "row"}`` per row."""
    for table, where in predicates(subject).items():
        final = "" if table in _APPEND_ONLY else " FINAL"
        for row in store.query(f"SELECT * FROM {store.database}.{table}{final} WHERE {where}"):
            yield {"table": table, "row": row}


def load_salt(configured: str | None, state_dir: Path) -> bytes:
    """The erasure salt: from settings, else one made once for this machine (0600)."""
    if configured:
        return configured.encode()
    path = state_dir / "erasure.salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()
