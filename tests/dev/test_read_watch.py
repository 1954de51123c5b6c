"""The local store ends a read that runs on past its time limit (spur.dev.read_watch).

An engineer holding the account's password can send any SQL with any
client (the command's guard runs in the command): the store's server must
end a read past its limit even when the engine cannot cancel it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spur.dev.local_store import LocalStore
from spur.dev.read_watch import (
    CANCEL_AFTER_SECONDS,
    CUT_AFTER_SECONDS,
    END_ENGINE_AFTER_SECONDS,
    overruns,
)
from spur.dev.store_config import STALLED_SEND_SECONDS
from spur.dev.store_engine import has_own_network
from spur.local_state import ADMIN, RunningStore
from spur_sinks.running_reads import RunningRead
from spur_sinks.store import StoreError
from spur_sinks.url import ReadLimits
from tests.dev.store_clients import store_client

LIMIT_SECONDS = 3
# What docs/security.md promises: ended within the limit plus 15 s (the watch
# ends the engine 10 s past the limit; it checks every second; a start takes
# about a second), measured here with a margin for a loaded machine.
ENDED_WITHIN_SECONDS = LIMIT_SECONDS + 15 + 3
# Quadratic work inside one block, which no time check reaches: about 3 s a
# row here (strings may have 65,536 characters at most), 99 s in all without
# the watch (measured), far past what it allows.
UNCANCELLABLE = (
    "SELECT editDistance(repeat('a', 60000), repeat('b', 60000 + number)) FROM numbers(30)"
)


def test_a_read_is_cancelled_past_its_limit_and_ends_the_engine_if_it_runs_on() -> None:
    reads = [
        RunningRead(1, "engineer", LIMIT_SECONDS + 1.0),
        RunningRead(2, "ops", LIMIT_SECONDS + CANCEL_AFTER_SECONDS + 0.5),
        RunningRead(3, "billing", LIMIT_SECONDS + CUT_AFTER_SECONDS + 0.5),
        RunningRead(4, "default", LIMIT_SECONDS + END_ENGINE_AFTER_SECONDS + 0.5),
    ]
    found = overruns(reads, LIMIT_SECONDS)
    assert [r.id_hash for r in found.to_cancel] == [2, 3, 4]
    assert [r.id_hash for r in found.to_cut] == [3, 4]
    assert found.ignored_its_cancel == reads[3]
    assert overruns(reads[:3], LIMIT_SECONDS).ignored_its_cancel is None


@pytest.fixture(scope="module")
def limited_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalStore, RunningStore]]:
    server = LocalStore(
        tmp_path_factory.mktemp("watched") / "store",
        limits=ReadLimits(max_memory_bytes=1024**3, max_execution_seconds=LIMIT_SECONDS),
    )
    running = server.start()
    try:
        yield server, running
    finally:
        server.stop()


def _reads_of(running: RunningStore, user: str) -> int:
    try:
        ((count,),) = store_client(running, ADMIN, timeout=120).execute(
            "SELECT count() FROM system.processes WHERE user = %(user)s", {"user": user}
        )
    except Exception:  # the engine is starting again
        return -1
    return int(count)


@pytest.mark.parametrize(
    "query_ids",
    [
        pytest.param([None], id="one read"),
        # The account's four reads with the longest ids the server takes: a watch
        # that named them in its KILL statement passed the server's query size
        # and ended none (helper's attack).
        pytest.param([f"{n}{'q' * 65535}" for n in range(4)], id="four reads, 64 KiB ids"),
    ],
)
def test_a_read_the_engine_cannot_cancel_ends_within_its_limit_plus_the_watch_margin(
    limited_store: tuple[LocalStore, RunningStore], query_ids: list[str | None]
) -> None:
    server, running = limited_store
    restarts = Path(server.log_path).read_text().count("ignored its cancel; starting it again")
    admin = store_client(running, ADMIN, timeout=120)
    admin.execute("CREATE DATABASE IF NOT EXISTS spur")
    admin.execute("CREATE TABLE IF NOT EXISTS spur.kept (n UInt8) ENGINE = MergeTree ORDER BY n")
    admin.execute("INSERT INTO spur.kept VALUES", [(7,)])
    outcome: list[str] = []

    def attack(query_id: str | None) -> None:
        try:
            store_client(running, "engineer", timeout=120).execute(UNCANCELLABLE, query_id=query_id)
            outcome.append("finished")
        except Exception as exc:
            outcome.append(str(exc))

    started = time.monotonic()
    attackers = [threading.Thread(target=attack, args=(q,)) for q in query_ids]
    for attacker in attackers:
        attacker.start()
    while _reads_of(running, "engineer") < len(query_ids):
        assert time.monotonic() < started + 5, outcome
        time.sleep(0.1)
    deadline = started + ENDED_WITHIN_SECONDS
    while time.monotonic() < deadline and _reads_of(running, "engineer") != 0:
        time.sleep(0.5)
    ended_after = time.monotonic() - started
    for attacker in attackers:
        attacker.join(timeout=120)
    assert _reads_of(running, "engineer") == 0, f"still running after {ended_after:.0f} s"
    assert "finished" not in outcome, "a read ran to its end"
    assert ended_after < ENDED_WITHIN_SECONDS
    # The store serves again, on the same port, its data kept.
    assert store_client(running, ADMIN, timeout=120).execute(
        "SELECT DISTINCT n FROM spur.kept"
    ) == [(7,)]
    log = Path(server.log_path).read_text()
    assert log.count("ignored its cancel; starting it again") > restarts
    assert "cancelled a read of engineer" in log


def test_a_read_within_its_limit_is_left_alone(
    limited_store: tuple[LocalStore, RunningStore],
) -> None:
    server, running = limited_store
    restarts = Path(server.log_path).read_text().count("starting it again")
    rows = store_client(running, "engineer", timeout=120).execute(
        "SELECT sleepEachRow(0.5) FROM numbers(5)"
    )
    assert len(rows) == 5  # 2.5 s: within the 3 s limit, never cancelled
    time.sleep(2 * 1.0)  # two of the watch's checks
    assert Path(server.log_path).read_text().count("starting it again") == restarts


def test_a_client_that_stops_reading_loses_its_read_without_a_restart(
    limited_store: tuple[LocalStore, RunningStore],
) -> None:
    """A pager left open: the engine's send fails after STALLED_SEND_SECONDS,
    before the watch would end the engine for the read held past its limit."""
    server, running = limited_store
    restarts = Path(server.log_path).read_text().count("starting it again")
    stalled = store_client(running, "engineer", timeout=120)
    rows = stalled.execute_iter("SELECT repeat('x', 1000) FROM numbers(50000000)")
    next(rows)  # then reads no more
    started = time.monotonic()
    while _reads_of(running, "engineer") != 0:
        assert time.monotonic() < started + STALLED_SEND_SECONDS + 5, "the read is still held"
        time.sleep(0.5)
    time.sleep(LIMIT_SECONDS + END_ENGINE_AFTER_SECONDS + 1 - (time.monotonic() - started))
    assert Path(server.log_path).read_text().count("starting it again") == restarts
    stalled.disconnect()


def test_a_read_waiting_for_its_client_ends_without_a_restart(
    limited_store: tuple[LocalStore, RunningStore],
) -> None:
    """A query sent without the packets that must follow it waits the server's
    300 s at no CPU, and ignores its cancel: the gate closes its connection
    (before, the watch ended the engine every 13 s for it)."""
    server, running = limited_store
    if not has_own_network(running.protection):
        pytest.skip(f"the engine is not gated here ({running.protection})")
    restarts = Path(server.log_path).read_text().count("starting it again")
    waiting = store_client(running, "engineer", timeout=120)
    waiting.connection.connect()
    waiting.connection.send_query("SELECT 1")  # and no end of its external data
    started = time.monotonic()
    while _reads_of(running, "engineer") == 0:
        assert time.monotonic() < started + 5, "the query never started"
        time.sleep(0.1)
    while _reads_of(running, "engineer") != 0:
        assert time.monotonic() < started + LIMIT_SECONDS + END_ENGINE_AFTER_SECONDS, "still held"
        time.sleep(0.5)
    assert Path(server.log_path).read_text().count("starting it again") == restarts
    assert "closed the connections of 1 read(s)" in Path(server.log_path).read_text()
    waiting.disconnect()


def test_a_read_cut_by_a_restart_says_what_may_have_happened() -> None:
    error = StoreError.wrap(EOFError("Unexpected EOF while reading bytes"), "query failed")
    assert error.hint is not None
    assert "restarted" in error.hint
    assert "spur status" in error.hint
