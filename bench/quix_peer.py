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
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.dataframe.windows.aggregations import Aggregator, Count, Sum
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models import TimestampType

from bench.quix_store import ActionsSink, ChdbStore, WindowsSink
from spur_schemas.topics import Topic

CONSUMER_GROUP = "quix-peer"
CHDB_DIR = "quix_chdb"
STATE_DIR = "quix_state"  # spur worker uses DIR/state
HOUR_MS = 3_600_000
GRACE_MS = 48 * HOUR_MS  # spur's allowed_lateness_hours default
COMMIT_INTERVAL_SECONDS = 1.0  # spur's commit_interval_seconds default

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


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
    topic = app.topic(
        Topic.ACTIONS.value, value_deserializer="json", timestamp_extractor=started_at_ms
    )
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
    # SIGTERM stops the peer as Ctrl-C does (bench.local.stop_on_sigterm, which
    # this virtualenv cannot import: bench.local needs spur's dependencies).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap, HOST:PORT")
    parser.add_argument(
        "--workdir", required=True, type=Path, help="holds the chdb store and the RocksDB state"
    )
    args = parser.parse_args()
    run_peer(args.bootstrap, args.workdir)


if __name__ == "__main__":
    main()
