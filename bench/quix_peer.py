"""A peer pipeline written with Quix Streams: the baseline for spur's worker benchmark.

Run: ``.venv-quix/bin/python -m bench.quix_peer --bootstrap HOST:PORT --workdir DIR``
(until SIGTERM or Ctrl-C), with the broker's login in the environment as
spur's processes take it (``SPUR_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT``,
``SPUR_KAFKA_SASL_USERNAME``, ``SPUR_KAFKA_SASL_PASSWORD``; bench.baselines
sets them). It runs from a virtualenv of its own
(``make bench`` builds it from bench/quix-requirements.txt): Quix Streams
pins pydantic below the versions spur uses, so it must not share spur's.

It does the job of ``spur worker`` the way a Quix Streams user would write
it, with the library's own building blocks:

- one ``Application`` in its own consumer group (``quix-peer``) reads
  ``spur.actions.v1`` from the earliest offset and parses each message as JSON;
- every action goes to a ``BatchingSink`` that inserts the raw rows into an
  embedded ClickHouse (chdb) store of its own, ``DIR/quix_chdb``;
- a branch re-keys the actions by customer (``group_by``: a repartition
  topic, since spur's actions are keyed by action id) and folds them into
  1-hour tumbling windows per key on event time (``started_at``, through the topic's
  timestamp extractor): sum of bytes_in and bytes_out, number of actions,
  number with ``status == "error"``. Windows accept data up to 48 h late,
  spur's default lateness. ``.current()`` emits every updated window; a second
  sink keeps each window's newest state per batch and inserts it with the
  source offset as the version of a ReplacingMergeTree (read it ``FINAL``),
  as spur's ``usage_hourly`` does;
- window state lives in RocksDB under ``DIR/quix_state`` with Quix's changelog
  topics (its fault tolerance, the counterpart of spur's window-state topic);
  offsets are committed every second (spur's default), after both sinks
  flushed: at-least-once.

What it leaves out of spur's worker: no validation of the event contract (a
malformed message stops it), no dead letters, no dedup of replayed action
ids, no privacy rules (IP policies, erasure), no capacity-minute table, no
metrics or worker API, no retention TTLs. It is a lower bound on the work, not
an equivalent.

``bench.worker`` starts it as a subprocess and measures it the way it
measures ``spur worker``, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pandas as pd
from quixstreams import Application
from quixstreams.dataframe.windows.aggregations import Aggregator, Count, Sum
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models import TimestampType
from quixstreams.sinks import BatchingSink, SinkBatch

from bench.local import stop_on_sigterm

ACTIONS_TOPIC = "spur.actions.v1"
CONSUMER_GROUP = "quix-peer"
DATABASE = "quix"
CHDB_DIR = "quix_chdb"
STATE_DIR = "quix_state"  # spur worker uses DIR/state
HOUR_MS = 3_600_000
GRACE_MS = 48 * HOUR_MS  # spur's allowed_lateness_hours default
COMMIT_INTERVAL_SECONDS = 1.0  # spur's commit_interval_seconds default

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)

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


class CountErrors(Aggregator):
    """Actions whose ``status`` is ``"error"``."""

    def initialize(self) -> int:
        return 0

    def agg(self, old: int, new: Any, timestamp: int) -> int:
        return old + 1 if new.get("status") == "error" else old

    def result(self, value: int) -> int:
        return value


def started_at_ms(value: Any, headers: Any, timestamp: int, timestamp_type: TimestampType) -> int:
    """The event time of an action: ``started_at`` in epoch milliseconds."""
    return (datetime.fromisoformat(value["started_at"]) - _EPOCH) // _MILLISECOND


def connection(bootstrap: str) -> str | ConnectionConfig:
    """The broker's address, with the SCRAM login the environment gives (spur's
    settings cannot be loaded here: this virtualenv has another pydantic)."""
    protocol = os.environ.get("SPUR_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    if protocol == "PLAINTEXT":
        return bootstrap
    return ConnectionConfig(
        bootstrap_servers=bootstrap,
        security_protocol=protocol.lower(),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=os.environ["SPUR_KAFKA_SASL_USERNAME"],
        sasl_password=os.environ["SPUR_KAFKA_SASL_PASSWORD"],
    )


def build_app(bootstrap: str, workdir: Path, store: ChdbStore) -> Application:
    app = Application(
        broker_address=connection(bootstrap),
        consumer_group=CONSUMER_GROUP,
        auto_offset_reset="earliest",
        commit_interval=COMMIT_INTERVAL_SECONDS,
        state_dir=workdir / STATE_DIR,
    )
    topic = app.topic(ACTIONS_TOPIC, value_deserializer="json", timestamp_extractor=started_at_ms)
    actions = app.dataframe(topic)
    actions.sink(ActionsSink(store))
    # Actions are keyed by action id (docs/topics.md): a Quix Streams user
    # re-keys them by customer (a repartition topic) before windowing per key.
    by_customer = actions.group_by("customer_id")
    windows = (
        by_customer.tumbling_window(duration_ms=HOUR_MS, grace_ms=GRACE_MS, name="usage_hourly")
        .agg(
            bytes_in=Sum("bytes_in"),
            bytes_out=Sum("bytes_out"),
            actions=Count(),
            error_actions=CountErrors(),
        )
        .current()
    )
    windows.sink(WindowsSink(store))
    return app


def run_peer(bootstrap: str, workdir: Path) -> None:
    """Run the peer until SIGTERM or SIGINT (Quix's own handlers stop it cleanly)."""
    store = ChdbStore(workdir / CHDB_DIR)
    try:
        build_app(bootstrap, workdir, store).run()
    finally:
        store.close()


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap, HOST:PORT")
    parser.add_argument(
        "--workdir", required=True, type=Path, help="holds the chdb store and the RocksDB state"
    )
    args = parser.parse_args()
    run_peer(args.bootstrap, args.workdir)


if __name__ == "__main__":
    main()
