"""Erasure in the store: which rows reference a subject, their deletion, and tombstones.

A data subject may demand deletion of all their data. The table registry
(spur_sinks.tables) says, per table, which rows reference a subject; erase
deletes exactly those and export (spur_sinks.export) reads exactly those, so the
two never disagree about what "all their data" is.

Finality: ``spur erase`` writes a tombstone (``erased_subjects``) before it
deletes; workers read the tombstones before and after each batch's writes
and delete again what raced a fresh erasure (:func:`delete_again`). Why no
interleaving leaves a row behind: docs/design.md#the-erasure-protocol.

Blocking: every function runs statements on the store. Raises
:class:`spur_sinks.store.StoreError`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any

from spur_sinks.store import Store, as_utc, sql_string
from spur_sinks.tables import SubjectKind, subject_tables
from spur_streams.steps.erasure import Tombstones, login_key

_DELETE_SETTINGS = " SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"


def sql_value(kind: SubjectKind, value: str) -> str:
    return str(int(value)) if kind == "customer" else sql_string(value)


def predicates(kind: SubjectKind, value: str) -> dict[str, str]:
    """Per table (the registry's order), the condition selecting the subject's rows."""
    literal = sql_value(kind, value)
    return {t.name: t.subject_rows[kind].format(v=literal) for t in subject_tables(kind)}


def count_rows(store: Store, kind: SubjectKind, value: str) -> dict[str, int]:
    """Rows per table that reference the subject (all versions, not FINAL)."""
    counts = {}
    for table, where in predicates(kind, value).items():
        rows = store.query(f"SELECT count() AS n FROM {store.database}.{table} WHERE {where}")
        counts[table] = int(rows[0]["n"])
    return counts


def delete_rows(
    store: Store, kind: SubjectKind, value: str, tables: Collection[str] | None = None
) -> None:
    """Delete the subject's rows (synchronously), from ``tables`` only if given; rows of
    a table that keeps them unlinked (``Table.unlinked_by``) lose the reference instead."""
    unlinking = {t.name: t.unlinked_by[kind] for t in subject_tables(kind) if kind in t.unlinked_by}
    for table, where in sorted(predicates(kind, value).items(), key=_erased_first):
        if tables is not None and table not in tables:
            continue
        if table in unlinking:
            store.execute(
                f"ALTER TABLE {store.database}.{table} UPDATE {unlinking[table]} "
                f"WHERE {where}{_DELETE_SETTINGS}"
            )
        else:
            store.execute(f"DELETE FROM {store.database}.{table} WHERE {where}{_DELETE_SETTINGS}")


# The order a subject's tables are erased in: the reverse of a batch's writes (raw
# rows, then the fold's targets, then the hourly rewrite from the sums). Workers
# keep a customer's actions from after its erasure, and a batch may store and fold
# them while these statements run; erased in this order, whatever it wrote in
# between is either kept whole or its window's difference is exactly its ids
# without a raw row, which reconcile explains as erased (in the registry's order,
# raw rows first, a window could keep sums without raw rows or raw rows without
# sums: found from outside).
_ERASE_FIRST = ("action_ids", "usage_sums", "usage_quarters", "usage_hourly")
_ERASE_LAST = ("actions",)


def _erased_first(item: tuple[str, str]) -> int:
    table = item[0]
    if table in _ERASE_FIRST:
        return _ERASE_FIRST.index(table)
    return len(_ERASE_FIRST) + (1 if table in _ERASE_LAST else 0)


def unlinked_tables(kind: SubjectKind) -> frozenset[str]:
    """The tables whose rows an erasure of ``kind`` keeps, unlinked from the subject."""
    return frozenset(t.name for t in subject_tables(kind) if kind in t.unlinked_by)


def logins_of_customer(store: Store, customer_id: int) -> list[str]:
    """The logins whose consent ledger entries belong to the customer."""
    rows = store.query(
        f"SELECT DISTINCT login FROM {store.database}.consent_log "
        f"WHERE {predicates('customer', str(customer_id))['consent_log']}"
    )
    return [str(row["login"]) for row in rows]


def record_erasure(store: Store, audit: dict[str, Any]) -> None:
    """Append one audit record (``erasure_log``: salted hashes only, never the subject)."""
    store.insert("erasure_log", {column: [value] for column, value in audit.items()})


def erasure_key(store: Store) -> bytes:
    """The store's key for login tombstones (made by migration 0007)."""
    rows = store.query(f"SELECT min(key) AS key FROM {store.database}.erasure_keys")
    return str(rows[0]["key"]).encode()


def record_tombstone(
    store: Store, kind: SubjectKind, value: str, erasure_id: uuid.UUID, at: dt.datetime
) -> None:
    store.insert(
        "erased_subjects",
        {
            "erased_at": [at],
            "erasure_id": [str(erasure_id)],
            "subject_kind": [kind],
            "customer_id": [int(value) if kind == "customer" else 0],
            "login_key": [login_key(erasure_key(store), value) if kind == "login" else ""],
        },
    )


def read_tombstones(store: Store) -> Tombstones:
    """Every tombstone (a small table: one row per erasure request)."""
    rows = store.query(
        f"SELECT toString(erasure_id) AS id, toString(subject_kind) AS kind, customer_id, "
        f"login_key, erased_at FROM {store.database}.erased_subjects"
    )
    customers: dict[int, dt.datetime] = {}
    logins: dict[str, dt.datetime] = {}
    for row in rows:
        at = as_utc(row["erased_at"])
        if row["kind"] == "customer":
            customer = int(row["customer_id"])
            customers[customer] = max(at, customers.get(customer, at))
        else:
            logins[str(row["login_key"])] = max(at, logins.get(str(row["login_key"]), at))
    key = erasure_key(store) if logins else b""
    return Tombstones(customers, logins, key, frozenset(str(row["id"]) for row in rows))


def delete_again(store: Store, kind: SubjectKind, value: str) -> None:
    """Delete a subject's rows once more: a batch raced its erasure (see the module)."""
    delete_rows(store, kind, value)
