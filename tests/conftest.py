"""Shared fixtures: one real Kafka broker per test session, one embedded store.

The broker is started from Maven Central jars (spur.devbroker) on free ports
and stopped at the end of the session, also when tests fail. chdb allows one
store directory per process, so in-process store tests share one directory
and isolate themselves by database name; workers run as subprocesses with
their own directories.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sinks.store import ChdbStore, ServerStore, Store
from spur.devbroker import LocalBroker
from spur.settings import StoreURL, parse_store_url

_databases = itertools.count(1)
_brokers_started: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which real broker the integration tests ran against (or that none did)."""
    if _brokers_started:
        for line in _brokers_started:
            terminalreporter.write_line(f"integration tests ran against {line}")
    else:
        terminalreporter.write_line("no Kafka broker was started: no integration test ran")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(data_dir=tmp_path_factory.mktemp("kafka"))
    broker.start()
    assert broker.process is not None
    _brokers_started.append(
        f"a real Apache Kafka {broker.version} broker at {broker.bootstrap} "
        f"(java pid {broker.process.pid}) and embedded ClickHouse (chdb)"
    )
    try:
        yield broker
    finally:
        broker.stop()


def recreate_topics(bootstrap: str) -> None:
    """Delete spur's topics and create them anew (their offsets start at 0 again)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from spur.settings import Settings
    from spur.topics import Topic, ensure_topics, topic_specs

    async def recreate() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics()) & {t.value for t in Topic}
            if existing:
                await admin.delete_topics(sorted(existing))
                # Deletion completes asynchronously on the broker; poll it.
                while set(await admin.list_topics()) & existing:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
        finally:
            await admin.close()
        await ensure_topics(bootstrap, topic_specs(Settings()))

    asyncio.run(recreate())


@pytest.fixture
def fresh_topics(kafka_broker: LocalBroker) -> str:
    """spur's topics, deleted and created anew: no test sees another's events."""
    recreate_topics(kafka_broker.bootstrap)
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(params=["chdb", "server"])
def store(request: pytest.FixtureRequest, chdb_dir: Path) -> Iterator[Store]:
    """Every storage backend available, each with a database of this test's own.

    The contract suite runs on the embedded store always, and on a ClickHouse
    server when ``SPUR_CLICKHOUSE_URL`` names one (clickhouse:// or clickhouses://).
    """
    database = f"spur_test_{os.getpid()}_{next(_databases)}"
    if request.param == "server":
        url = os.environ.get("SPUR_CLICKHOUSE_URL", "")
        if not url.startswith("clickhouse"):
            pytest.skip("no ClickHouse server: set SPUR_CLICKHOUSE_URL=clickhouse://... to run")
        opened: Store = ServerStore(replace(parse_store_url(url), database=database), 30.0)
    else:
        opened = ChdbStore(StoreURL(scheme="chdb", path=chdb_dir, database=database))
    try:
        yield opened
    finally:
        opened.execute(f"DROP DATABASE IF EXISTS {opened.database}")
        opened.close()
