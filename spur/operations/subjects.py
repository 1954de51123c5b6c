"""Data subjects: where a customer's or a login's rows are, erasure and export.

A data subject may demand deletion of all their data, or ask for it
(information requests). The table registry (spur_sinks.tables) says, per table,
which rows reference a subject; erase deletes exactly those and export reads
exactly those, so the two can never disagree about what "all their data" is.

Blocking. ``erase`` writes as the store's writer, ``export`` reads; both
while workers run.
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
from typing import Any

from spur.client.private import private_dir, write_private
from spur_sinks import erasure
from spur_sinks.export import export_rows
from spur_sinks.store import Store
from spur_sinks.tables import SubjectKind


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    value: str  # customer id as decimal text, or the login


def predicates(subject: Subject) -> dict[str, str]:
    return erasure.predicates(subject.kind, subject.value)


def count_rows(store: Store, subject: Subject) -> dict[str, int]:
    """Rows per table that reference the subject (all versions, not FINAL)."""
    return erasure.count_rows(store, subject.kind, subject.value)


def logins_of(store: Store, subject: Subject) -> list[str]:
    """The logins whose consent ledger entries belong to the subject (for Kafka tombstones)."""
    if subject.kind == "login":
        return [subject.value]
    return erasure.logins_of_customer(store, int(subject.value))


@dataclass(frozen=True)
class Erasure:
    erasure_id: uuid.UUID
    rows_removed: dict[str, int]
    kafka_expires_at: dt.datetime
    # Rows kept without the reference to the subject (spur_sinks.tables: action ids).
    rows_unlinked: dict[str, int]


def subject_hash(subject: Subject, salt: bytes) -> str:
    """The audit log's stand-in for the subject: HMAC-SHA256, hex."""
    message = f"{subject.kind}:{subject.value}".encode()
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def erase(store: Store, subject: Subject, salt: bytes, input_retention_days: int) -> Erasure:
    """Tombstone the subject, delete its rows everywhere (action ids are kept, unlinked
    from a customer), write the audit record.

    The tombstone comes first: running workers then keep the subject's
    earlier data out for good (docs/design.md#the-erasure-protocol says why
    no interleaving with a batch in flight leaves a row behind). Workers may
    run meanwhile.
    """
    now = dt.datetime.now(dt.UTC)
    erasure_id = uuid.uuid4()
    erasure.record_tombstone(store, subject.kind, subject.value, erasure_id, now)
    found = count_rows(store, subject)
    erasure.delete_rows(store, subject.kind, subject.value, [t for t, n in found.items() if n])
    unlinked = erasure.unlinked_tables(subject.kind)
    removed = {table: n for table, n in found.items() if table not in unlinked}
    done = Erasure(
        erasure_id=erasure_id,
        rows_removed=removed,
        kafka_expires_at=now + dt.timedelta(days=input_retention_days),
        rows_unlinked={table: n for table, n in found.items() if table in unlinked},
    )
    erasure.record_erasure(
        store,
        {
            "erased_at": now,
            "erasure_id": str(done.erasure_id),
            "subject_kind": subject.kind,
            "subject_hash": subject_hash(subject, salt),
            "rows_removed": removed,
            "kafka_expires_at": done.kafka_expires_at.replace(microsecond=0),
        },
    )
    return done


def export(store: Store, subject: Subject) -> Iterator[dict[str, Any]]:
    """Every stored row about the subject, one ``{"table", "row"}`` per row."""
    for table, row in export_rows(store, subject.kind, subject.value):
        yield {"table": table, "row": row}


def load_salt(configured: str | None, state_dir: Path) -> bytes:
    """The erasure salt: from settings, else one made once for this machine (0600)."""
    if configured:
        return configured.encode()
    path = state_dir / "erasure.salt"
    if not path.exists():
        private_dir(path.parent)
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip().encode()
