"""Shared fixtures: one real Kafka broker and one local ClickHouse server per session.

The broker is started from Maven Central jars (spur.dev.broker) on free ports
and asks every client for its generated password, as the dev broker does:
tests reach it through ``kafka_broker.target`` / ``fresh_topics``. The store
is the chdb engine serving ClickHouse's native protocol (spur.dev.local_store);
both are stopped at the end of the session, also when tests fail. Tests
isolate themselves by database name (``store_url``, ``store``); workers and
commands run as subprocesses, clients of the same server, exactly as in
production.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from spur.client.kafka import KafkaTarget
from spur.dev.broker import LocalBroker
from spur.dev.local_store import LocalStore
from spur.local_state import WRITER, RunningStore
from spur.settings import parse_store_url
from spur_sinks.store import ServerStore, Store

# Property tests check meaning, not speed: Hypothesis's default deadline (200 ms an
# example) is a timed assertion, and failed on a loaded machine (a CI run beside
# others: "test_content_hashes_hash_the_contracts_encoding" once, 20,000 examples
# passing alone). Speed is measured under bench/.
settings.register_profile("spur", deadline=None)
settings.load_profile("spur")

_brokers_started: list[str] = []
_stores_started: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which real broker the integration tests ran against (or that none did)."""
    if _brokers_started:
        for line in _brokers_started:
            terminalreporter.write_line(f"integration tests ran against {line}")
    else:
        terminalreporter.write_line("no Kafka broker was started: no integration test ran")
    for line in _stores_started:
        terminalreporter.write_line(f"store tests ran against {line}")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(data_dir=tmp_path_factory.mktemp("kafka"))
    broker.start()
    assert broker.process is not None
    _brokers_started.append(
        f"a real Apache Kafka {broker.version} broker at {broker.bootstrap} "
        f"(SCRAM-SHA-512 login, java pid {broker.process.pid})"
    )
    try:
        yield broker
    finally:
        broker.stop()


def recreate_topics(bootstrap: KafkaTarget) -> None:
    """Delete spur's topics and create them anew (their offsets start at 0 again)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from spur.settings import Settings
    from spur.topics import ensure_topics, topic_specs
    from spur_schemas.topics import Topic

    async def recreate() -> None:
        admin = AIOKafkaAdminClient(**bootstrap.client_kwargs())
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
def fresh_topics(kafka_broker: LocalBroker) -> KafkaTarget:
    """spur's topics, deleted and created anew: no test sees another's events.

    Returns the broker with spur's login (pass it to clients and ``spur_env``).
    """
    recreate_topics(kafka_broker.target)
    return kafka_broker.target


# Each test that needs a database of its own takes the next of these; the
# local store grants its read-only users on exactly these databases.
TEST_DATABASES = tuple(f"spur_t{n}" for n in range(1, 401))
_next_database = itertools.count()


@pytest.fixture(scope="session")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStore]:
    """One local ClickHouse server (spur.dev.local_store) for the whole session."""
    server = LocalStore(tmp_path_factory.mktemp("store"), databases=("spur", *TEST_DATABASES))
    running = server.start()
    _stores_started.append(
        f"a local ClickHouse store at 127.0.0.1:{running.port} (pid {running.pid})"
    )
    try:
        yield running
    finally:
        server.stop()


@pytest.fixture
def database() -> str:
    """A database name of this test's own (its tables are created by migrations)."""
    return TEST_DATABASES[next(_next_database) % len(TEST_DATABASES)]


@pytest.fixture
def store_url(local_store: RunningStore, database: str) -> str:
    """``SPUR_CLICKHOUSE_URL`` of this test's database, as the writer.

    With ``SPUR_CLICKHOUSE_URL`` naming a ClickHouse server in the test's
    environment, that server instead (its database replaced by the test's).
    """
    external = os.environ.get("SPUR_CLICKHOUSE_URL", "")
    if external.startswith("clickhouse"):
        url = parse_store_url(external)
        auth = f"{url.user}:{url.password.get_secret_value()}"
        own = f"{url.scheme}://{auth}@{url.host}:{url.port}/{database}"
    else:
        own = local_store.url(WRITER, database)
    # Empty to begin with: the names wrap after 400 tests, and a test that took
    # only this URL (not ``store``, which drops its database after it) left its
    # rows there; simulated workloads share their first sessions and ids, so a
    # later test found some of its ids indexed already and billed them as
    # duplicates (7 of 7,176 actions, twice in a row, once tests were added).
    opened = ServerStore(parse_store_url(own), 30.0)
    try:
        opened.execute(f"DROP DATABASE IF EXISTS {database} SYNC")
    finally:
        opened.close()
    return own


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A store on this test's own database, as the workers' writer account."""
    opened = ServerStore(parse_store_url(store_url), 30.0)
    try:
        yield opened
    finally:
        opened.execute(f"DROP DATABASE IF EXISTS {opened.database} SYNC")
        opened.close()
