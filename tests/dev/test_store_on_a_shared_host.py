"""Another OS user of the host attacks the local store through its password-less account.

The engine's own serving call needs ``default`` without a password on
loopback (spur.dev.store_config), so anyone on the host can connect as it.
Here a throwaway OS user does, and must get nothing: no host file, no
credential, no data, no memory beyond the limit, no lasting silence.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from clickhouse_driver import Client

from spur.dev import landlock
from spur.dev.local_store import LocalStore
from spur.dev.store_engine import has_own_network, is_confined
from spur.local_state import WRITER, RunningStore
from spur_sinks.store import Store

LANDLOCK = landlock.abi_version()[0]


@pytest.fixture
def other_user() -> Iterator[tuple[int, int]]:
    """A throwaway OS user (uid, gid), removed afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("creating a second OS user needs root; this test runs as another user")
    if shutil.which("useradd") is None:
        pytest.skip("no useradd on this host to create a second OS user")
    name = f"spur-x{uuid.uuid4().hex[:10]}"
    subprocess.run(
        ["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def attacks(store: Path, table: str) -> dict[str, str]:
    """SQL another user tries as the password-less account, by what it is after."""
    return {
        "shadow": "SELECT file('/etc/shadow')",
        "credentials": f"SELECT file('{store / 'credentials.json'}')",
        "environment": "SELECT file('/proc/self/environ')",
        "server state": f"SELECT file('{store / 'server.json'}')",
        # The engine must read its own data: its part files, and the mutation
        # files that hold an erasure's condition.
        "data files": f"SELECT file('{store / 'data' / 'metadata' / 'system.sql'}')",
        "mutation files": f"SELECT file('{store / 'data' / 'store' / 'mutation_1.txt'}')",
        "spur's tables": f"SELECT * FROM {table}",
        "file table function": "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "writing a file": "INSERT INTO FUNCTION file('/tmp/spur-x', 'TSV') SELECT 1",
        "memory": "SELECT length(groupArray(number)) FROM numbers(2000000000)",
        "lifting the memory limit": "SELECT 1 SETTINGS max_memory_usage = 0",
        "stopping the listener": "SYSTEM STOP LISTEN TCP",
    }


def attack_as(user: tuple[int, int], port: int, store: Path, table: str) -> dict[str, str]:
    """Each attack's outcome ("refused: ..." or what it got), run by ``user`` in a child process.

    A forked child, as the Python here lives where another user cannot run
    it; it takes the other user's identity before it touches anything.
    """
    warm = Client(host="127.0.0.1", port=port)  # loads the driver's modules while root
    with contextlib.suppress(Exception):
        warm.execute("SELECT file('/nonexistent'), 'text', 1")
    warm.disconnect()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other user
        outcome: dict[str, str] = {}
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
            try:
                (store / "credentials.json").read_text()
                outcome["direct read"] = "GOT the credentials file"
            except PermissionError:
                outcome["direct read"] = "refused"
            client = Client(host="127.0.0.1", port=port, connect_timeout=5)
            for what, sql in attacks(store, table).items():
                try:
                    outcome[what] = f"GOT {str(client.execute(sql))[:200]}"
                except Exception as exc:
                    outcome[what] = f"refused: {' '.join(str(exc).split())[:300]}"
        finally:
            os.write(write_end, json.dumps(outcome).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as report:
        answer = report.read()
    os.waitpid(pid, 0)
    return dict(json.loads(answer))


def serves(running: RunningStore, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client = Client(
            host="127.0.0.1", port=running.port, user=WRITER,
            password=running.credentials.passwords[WRITER], connect_timeout=1,
        )  # fmt: skip
        try:
            return bool(client.execute("SELECT currentUser()") == [(WRITER,)])
        except Exception:  # not listening (yet)
            time.sleep(0.5)
        finally:
            client.disconnect()
    return False


@pytest.mark.skipif(LANDLOCK == 0, reason="this kernel has no Landlock: the store is unconfined")
def test_another_os_user_gets_nothing_through_the_store(
    local_store: RunningStore, store: Store, other_user: tuple[int, int]
) -> None:
    assert is_confined(local_store.protection), local_store.protection
    store.execute(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    store.execute(f"CREATE TABLE {store.database}.kept (s String) ENGINE = MergeTree ORDER BY s")
    store.insert("kept", {"s": ["private"]})
    table = f"{store.database}.kept"
    outcome = attack_as(other_user, local_store.port, local_store.directory, table)
    assert outcome.pop("direct read") == "refused"  # the test really is another user
    if has_own_network(local_store.protection):
        # The gate admits spur's named accounts only: not one attack reaches the engine.
        for what, result in outcome.items():
            assert result.startswith("refused"), (what, result)
            assert "admits only spur's accounts" in result or "Connection" in result, (what, result)
        assert serves(local_store, timeout=5)
        return
    # Without the gate (the store's OS user may not create namespaces), the engine's
    # own data stays readable through file(): docs/security.md says so.
    for what in ("data files", "mutation files"):
        outcome.pop(what)
    # No grant, setting or profile can forbid this one to the account the
    # engine's serving call needs (measured): it works, and the server
    # starts the engine again at once.
    assert outcome.pop("stopping the listener") in ("GOT []", "refused: Code: 210.")
    got = {what: result for what, result in outcome.items() if not result.startswith("refused")}
    assert got == {}
    for what in ("shadow", "credentials", "environment", "server state"):
        assert "Permission denied" in outcome[what], outcome[what]  # there, out of reach
    assert "Code: 497" in outcome["spur's tables"]
    assert "Code: 241" in outcome["memory"]  # the limit, not a missing grant
    assert serves(local_store, timeout=30), "the store did not serve its own users again"


def test_status_shows_the_protection_and_the_pid_of_the_local_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spur.cli.main import main

    server = LocalStore(tmp_path / "state" / "store")
    running = server.start()
    try:
        for name in ("SPUR_CLICKHOUSE_URL", "SPUR_CLICKHOUSE_READ_URL", "SPUR_KAFKA_BOOTSTRAP"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SPUR_STATE_DIR", str(tmp_path / "state"))
        document = json.loads(CliRunner().invoke(main, ["status", "--format", "json"]).output)
        text = CliRunner().invoke(main, ["status"]).output
    finally:
        server.stop()
    expected = f"confined (Landlock ABI {LANDLOCK})" if LANDLOCK else "NOT confined: "
    assert document["store"]["protection"].startswith(expected)
    assert running.protection == document["store"]["protection"]
    assert f"protection: {running.protection}" in text
    assert document["store"]["pid"] == running.pid  # the process `spur dev down` stops
    assert f"local store: pid {running.pid}" in text
