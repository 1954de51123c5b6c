"""The local store: the chdb engine serving ClickHouse's native protocol (spur.dev.local_store).

The serving mechanism is not part of chdb's public API (spur.dev.store_server):
if an upgrade changes it, these tests fail loudly, naming what changed.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
from clickhouse_driver import Client

from spur.dev.local_store import LocalStore, LocalStoreError
from spur.local_state import ADMIN, WRITER, RunningStore, running_store
from spur.processes import free_port
from spur_sinks.store import Store


def client(running: RunningStore, user: str) -> Client:
    return Client(
        host="127.0.0.1", port=running.port, user=user,
        password=running.credentials.passwords.get(user, ""),
    )  # fmt: skip


def test_chdb_is_the_version_whose_serving_call_was_measured() -> None:
    assert metadata.version("chdb") == "4.4.0", "re-measure spur.dev.local_store before an upgrade"
    assert metadata.version("chdb-core") == "26.9.0", "re-measure spur.dev.local_store first"


def test_the_store_speaks_the_native_protocol_with_its_generated_users(
    local_store: RunningStore,
) -> None:
    writer = client(local_store, WRITER)
    ((version, user),) = writer.execute("SELECT version(), currentUser()")
    assert version.startswith("26.9"), version
    assert user == WRITER
    writer.execute("CREATE DATABASE IF NOT EXISTS spur")
    writer.execute(
        "CREATE TABLE IF NOT EXISTS spur.actions (n UInt8) ENGINE = MergeTree ORDER BY n"
    )
    writer.execute(
        "CREATE TABLE IF NOT EXISTS spur.usage_hourly (n UInt8) ENGINE = MergeTree ORDER BY n"
    )
    billing = client(local_store, "billing")
    assert billing.execute("SELECT count() FROM spur.usage_hourly") == [(0,)]
    for refused in ("SELECT count() FROM spur.actions", "INSERT INTO spur.usage_hourly VALUES (1)"):
        with pytest.raises(Exception, match=r"497|164"):
            billing.execute(refused)


def test_the_password_less_engine_account_reaches_no_data(local_store: RunningStore) -> None:
    # The engine's own serving call needs `default` without a password on
    # loopback; it is granted nothing but starting listeners, and where the
    # engine has a network of its own the gate does not even let it in.
    engine = Client(host="127.0.0.1", port=local_store.port)
    for statement in (
        "SELECT count() FROM spur.actions",
        "CREATE DATABASE intruder",
        "SELECT * FROM system.processes",
        "KILL QUERY WHERE 1",
    ):
        # 497: not granted; 192: the gate refused the account.
        with pytest.raises(Exception, match=r"Code: (497|192)"):
            engine.execute(statement)


def test_files_are_private_and_a_restart_keeps_the_data(tmp_path: Path) -> None:
    server = LocalStore(tmp_path / "store")
    running = server.start()
    try:
        admin = client(running, ADMIN)
        admin.execute("CREATE DATABASE spur")
        admin.execute("CREATE TABLE spur.kept (n UInt8) ENGINE = MergeTree ORDER BY n")
        admin.execute("INSERT INTO spur.kept VALUES", [(7,)])
        with pytest.raises(LocalStoreError, match=r"serves .* already"):
            LocalStore(tmp_path / "store").start(timeout=30)
    finally:
        server.stop()
    directory = tmp_path / "store"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("credentials.json", "users.xml", "config.xml", "store.log"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name
    assert not (directory / "server.json").exists()  # stopped cleanly on SIGTERM
    again = LocalStore(directory)
    running = again.start()
    try:
        assert client(running, ADMIN).execute("SELECT n FROM spur.kept") == [(7,)]
    finally:
        again.stop()


def test_inserted_timestamps_keep_their_millisecond_and_never_round_up(store: Store) -> None:
    import datetime as dt

    store.execute(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    store.execute(
        f"CREATE TABLE {store.database}.times (n UInt8, at DateTime64(3, 'UTC'), "
        "whole DateTime('UTC')) ENGINE = MergeTree ORDER BY n"
    )
    instants = [
        dt.datetime(2026, 11, 30, 10, 59, 59, 999_600, tzinfo=dt.UTC),  # stays in hour 10
        dt.datetime(2026, 11, 1, 0, 0, 0, 123_000, tzinfo=dt.UTC),
        dt.datetime(1999, 12, 31, 23, 59, 59, 1_000, tzinfo=dt.UTC),
    ]
    whole = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)
    store.insert("times", {"n": [0, 1, 2], "at": instants, "whole": [whole, whole, whole]})
    rows = store.query(
        f"SELECT toString(at) AS at, toString(whole) AS whole FROM {store.database}.times "
        "ORDER BY n"
    )
    assert [r["at"] for r in rows] == [
        "2026-11-30 10:59:59.999",
        "2026-11-01 00:00:00.123",
        "1999-12-31 23:59:59.001",
    ]
    assert {r["whole"] for r in rows} == {"2026-11-30 11:00:00"}


def test_a_foreground_store_is_found_by_every_command_and_stops_promptly(tmp_path: Path) -> None:
    """`spur store` (Ctrl-C to stop) is found as one started by `spur dev up` is."""
    env = {**os.environ, "SPUR_STATE_DIR": str(tmp_path / ".spur")}
    for name in ("SPUR_CLICKHOUSE_URL", "SPUR_CLICKHOUSE_READ_URL"):
        env.pop(name, None)
    log = (tmp_path / "store.out").open("wb")
    store = subprocess.Popen(
        [sys.executable, "-m", "spur", "store"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while running_store(tmp_path / ".spur" / "store") is None:
            assert store.poll() is None, (tmp_path / "store.out").read_text()
            assert time.monotonic() < deadline, "spur store did not come up"
            time.sleep(0.2)
        found = running_store(tmp_path / ".spur" / "store")
        assert found is not None
        assert found.pid == store.pid  # the command itself became the server
        status = subprocess.run(
            [sys.executable, "-m", "spur", "status", "--format", "json"],
            env={**env, "SPUR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert '"reachable": true' in status.stdout.split('"store"', 1)[1], status.stdout
        started = time.monotonic()
        store.send_signal(signal.SIGINT)  # Ctrl-C
        store.wait(timeout=30)
        # About 1.8 s measured on the 2-core build machine; the bound leaves room for load.
        assert time.monotonic() - started < 10
        assert running_store(tmp_path / ".spur" / "store") is None
    finally:
        if store.poll() is None:
            store.kill()
            store.wait()
        log.close()


def _serves(running: RunningStore) -> bool:
    try:
        return bool(client(running, ADMIN).execute("SELECT 1") == [(1,)])
    except Exception:  # not serving (yet)
        return False


def test_a_store_started_right_after_a_stop_keeps_its_port(tmp_path: Path) -> None:
    """Workers retry the address they know: a store stopped and started again at
    once (Ctrl-C, then `spur dev up`) must not move to another port."""
    first = LocalStore(tmp_path / "store").start()
    port = first.port
    os.kill(first.pid, signal.SIGINT)  # not waited for: `spur dev up` right after
    again = LocalStore(tmp_path / "store")
    running = again.start()
    try:
        assert running.port == port
        assert _serves(running)
    finally:
        again.stop()


def test_an_engine_that_dies_is_started_again_on_the_same_port(tmp_path: Path) -> None:
    server = LocalStore(tmp_path / "store")
    running = server.start()
    try:
        children = Path(f"/proc/{running.pid}/task/{running.pid}/children").read_text().split()
        (engine,) = [int(pid) for pid in children]
        os.kill(engine, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not _serves(running):
            assert time.monotonic() < deadline, "the store did not serve again"
            time.sleep(0.5)
        assert running_store(tmp_path / "store") is not None  # the same server, still up
    finally:
        server.stop()
