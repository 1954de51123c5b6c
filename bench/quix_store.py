"""The Quix Streams peer's store: an embedded chdb database, its two tables, the sinks.

bench.quix_peer's pipeline writes raw actions (:class:`ActionsSink`) and hourly
window states (:class:`WindowsSink`) into ``quix.actions`` and
``quix.usage_hourly``, the counterparts of spur's ``actions`` and
``usage_hourly``. Runs in the peer's own virtualenv (.venv-quix), so it imports
nothing of spur.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pandas as pd
from quixstreams.sinks import BatchingSink, SinkBatch

DATABASE = "quix"

DDL = (
    f"CREATE DATABASE IF NOT EXISTS {DATABASE}",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.actions
    (
        customer_id      UInt32,
        started_at       DateTime64(3, 'UTC'),
        action_id        UUID,
        ended_at         DateTime64(3, 'UTC'),
        parent_action_id UUID,
        action           LowCardinality(String),
        login            String,
        session_id       String,
        bytes_in         UInt64,
        bytes_out        UInt64,
        client_ip        IPv6,
        data_kind        LowCardinality(String),
        data_count       UInt64,
        status           Enum8('ok' = 1, 'error' = 2),
        error_code       LowCardinality(String),
        server           LowCardinality(String),
        profile          Map(LowCardinality(String), String),
        kafka_partition  UInt16,
        kafka_offset     UInt64
    )
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(started_at)
    ORDER BY (customer_id, started_at, action_id)""",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.usage_hourly
    (
        customer_id   UInt32,
        hour          DateTime('UTC'),
        bytes_in      UInt128,
        bytes_out     UInt128,
        actions       UInt64,
        error_actions UInt64,
        version       UInt64
    )
    ENGINE = ReplacingMergeTree(version)
    PARTITION BY toYYYYMM(hour)
    ORDER BY (customer_id, hour)""",
)

# Column -> the SELECT expression over the DataFrame that restores its type.
_ACTION_SELECT = {
    "customer_id": "customer_id",
    "started_at": "parseDateTime64BestEffort(started_at, 3, 'UTC')",
    "action_id": "toUUID(action_id)",
    "ended_at": "parseDateTime64BestEffort(ended_at, 3, 'UTC')",
    "parent_action_id": "toUUIDOrZero(parent_action_id)",
    "action": "action",
    "login": "login",
    "session_id": "session_id",
    "bytes_in": "bytes_in",
    "bytes_out": "bytes_out",
    "client_ip": "toIPv6(client_ip)",
    "data_kind": "data_kind",
    "data_count": "data_count",
    "status": "status",
    "error_code": "error_code",
    "server": "server",
    "profile": "JSONExtract(profile, 'Map(String, String)')",
    "kafka_partition": "kafka_partition",
    "kafka_offset": "kafka_offset",
}
_WINDOW_SELECT = {
    "customer_id": "customer_id",
    "hour": "toDateTime(intDiv(start, 1000), 'UTC')",
    "bytes_in": "bytes_in",
    "bytes_out": "bytes_out",
    "actions": "actions",
    "error_actions": "error_actions",
    "version": "version",
}


class ChdbStore:
    """One chdb session on ``path`` (chdb allows one directory per process)."""

    def __init__(self, path: Path) -> None:
        from chdb import session as chdb_session

        path.mkdir(parents=True, exist_ok=True)
        # chdb ships no type hints; its Session is used through this Any.
        self._session: Any = cast(Any, chdb_session).Session(str(path))
        for statement in DDL:
            self._session.query(statement)

    def insert(self, table: str, select: dict[str, str], frame: pd.DataFrame) -> None:
        columns = ", ".join(select)
        expressions = ", ".join(select.values())
        # chdb resolves `Python(frame)` by the local variable's name.
        self._session.query(
            f"INSERT INTO {DATABASE}.{table} ({columns}) SELECT {expressions} FROM Python(frame)"
        )

    def query(self, sql: str) -> list[dict[str, Any]]:
        text = self._session.query(sql, "JSONEachRow").bytes().decode()
        return [json.loads(line) for line in text.splitlines() if line]

    def close(self) -> None:
        self._session.close()


class ActionsSink(BatchingSink):
    """Raw actions into ``quix.actions``, one INSERT per partition and checkpoint."""

    def __init__(self, store: ChdbStore) -> None:
        super().__init__()
        self._store = store

    def write(self, batch: SinkBatch) -> None:
        values = [item.value for item in batch]
        columns: dict[str, list[Any]] = {
            "customer_id": [v["customer_id"] for v in values],
            "started_at": [v["started_at"] for v in values],
            "action_id": [v["action_id"] for v in values],
            "ended_at": [v["ended_at"] for v in values],
            "parent_action_id": [v.get("parent_action_id") or "" for v in values],
            "action": [v["action"] for v in values],
            "login": [v["login"] for v in values],
            "session_id": [v["session_id"] for v in values],
            "bytes_in": [v["bytes_in"] for v in values],
            "bytes_out": [v["bytes_out"] for v in values],
            "client_ip": [v["client_ip"] for v in values],
            "data_kind": [v.get("data_kind") or "" for v in values],
            "data_count": [v.get("data_count") or 0 for v in values],
            "status": [v.get("status") or "ok" for v in values],
            "error_code": [v.get("error_code") or "" for v in values],
            "server": [v.get("server") or "" for v in values],
            "profile": [json.dumps(v.get("profile") or {}) for v in values],
            "kafka_partition": [batch.partition] * len(values),
            "kafka_offset": [item.offset for item in batch],
        }
        self._store.insert("actions", _ACTION_SELECT, pd.DataFrame(columns))


class WindowsSink(BatchingSink):
    """Hourly window states into ``quix.usage_hourly``, the newest per window and batch."""

    def __init__(self, store: ChdbStore) -> None:
        super().__init__()
        self._store = store

    def write(self, batch: SinkBatch) -> None:
        newest: dict[tuple[bytes, int], tuple[dict[str, Any], int]] = {}
        for item in batch:  # offsets ascend within a partition: the last state wins
            newest[(item.key, item.value["start"])] = (item.value, item.offset)
        states = list(newest.values())
        columns: dict[str, list[Any]] = {
            "customer_id": [int(key) for key, _ in newest],
            "start": [start for _, start in newest],
            "bytes_in": [w["bytes_in"] for w, _ in states],
            "bytes_out": [w["bytes_out"] for w, _ in states],
            "actions": [w["actions"] for w, _ in states],
            "error_actions": [w["error_actions"] for w, _ in states],
            "version": [offset for _, offset in states],
        }
        self._store.insert("usage_hourly", _WINDOW_SELECT, pd.DataFrame(columns))
