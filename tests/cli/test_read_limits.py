"""What one read may take, through `spur query` as a user runs it, on a local store of its own.

The store's readers may run a query for 60 s; the command's own limit
(SPUR_QUERY_MAX_SECONDS of its environment) is 1 s, so the command gives up
first: the query must then be gone from the server too, not keep running.
A fifth concurrent read of one account waits, then is refused with a hint,
and `spur status` still answers. A result past the size limit is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client

from spur.dev.local_store import LocalStore
from spur.local_state import ADMIN, RunningStore
from spur.processes import free_port
from spur.settings import Settings, parse_store_url
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import open_store
from spur_sinks.url import ReadLimits

# Many blocks of work: runs for minutes unless something stops it.
ENDLESS = "SELECT count() FROM numbers(100000000000) WHERE cityHash64(number) % 7 = 3"


@pytest.fixture(scope="module")
def own_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStore]:
    state = tmp_path_factory.mktemp("limits")
    store = LocalStore(state / "store", limits=ReadLimits(max_execution_seconds=60))
    running = store.start()
    writer = open_store(parse_store_url(running.url()))
    try:
        apply_migrations(
            writer, Settings().retention.tables
        )  # spur's database, as a worker makes it
        writer.close()
        yield running
    finally:
        store.stop()


def _spur(running: RunningStore, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "SPUR_STATE_DIR": str(running.directory.parent),
        "SPUR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        **env,
    }
    for name in ("SPUR_CLICKHOUSE_URL", "SPUR_CLICKHOUSE_READ_URL"):
        environ.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "spur", *args],
        env=environ, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _running_queries(running: RunningStore, like: str) -> int:
    admin = Client(
        host="127.0.0.1", port=running.port, user=ADMIN,
        password=running.credentials.passwords[ADMIN],
    )  # fmt: skip
    try:
        ((n,),) = admin.execute(
            "SELECT count() FROM system.processes WHERE query LIKE %(like)s AND user != '' "
            "AND query_id != queryID()",
            {"like": f"%{like}%"},
        )
        return int(n)
    finally:
        admin.disconnect()


def _kill_engineers_queries(running: RunningStore) -> None:
    admin = Client(
        host="127.0.0.1", port=running.port, user=ADMIN,
        password=running.credentials.passwords[ADMIN],
    )  # fmt: skip
    try:
        admin.execute("KILL QUERY WHERE user = 'engineer' SYNC")
    finally:
        admin.disconnect()


def test_a_read_the_command_gives_up_on_is_cancelled_on_the_server(own_store: RunningStore) -> None:
    started = time.monotonic()
    result = _spur(own_store, "query", ENDLESS, "--format", "csv", SPUR_QUERY_MAX_SECONDS="1")
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "ran past its time limit" in result.stderr, result.stderr
    assert "Hint: " in result.stderr
    assert took < 30, took  # the 1 s limit and the 5 s margin, not the server's 60 s
    deadline = time.monotonic() + 10
    while _running_queries(own_store, "cityHash64(number) % 7") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _running_queries(own_store, "cityHash64(number) % 7") == 0


def test_a_fifth_read_waits_then_is_refused_and_status_still_answers(
    own_store: RunningStore,
) -> None:
    engineer = own_store.credentials.passwords["engineer"]
    clients = [
        Client(host="127.0.0.1", port=own_store.port, user="engineer", password=engineer)
        for _ in range(4)
    ]

    def hold(client: Client) -> None:
        with contextlib.suppress(Exception):  # ends when the test kills it
            client.execute(ENDLESS)
        client.disconnect()

    busy = [threading.Thread(target=hold, args=(c,), daemon=True) for c in clients]
    for thread in busy:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        while _running_queries(own_store, "cityHash64(number) % 7") < 4:
            assert time.monotonic() < deadline, "the four reads did not start"
            time.sleep(0.2)
        started = time.monotonic()
        fifth = _spur(own_store, "query", "SELECT 1 AS one", "--format", "json")
        waited = time.monotonic() - started
        assert fifth.returncode == 1, fifth.stdout
        assert "as many queries at once" in fifth.stderr, fifth.stderr
        assert "waiting up to" in fifth.stderr, fifth.stderr  # said so while it waited
        assert waited >= 8, waited
        # Every read command of the account waits alike (spur.cli.waiting).
        letters = _spur(own_store, "deadletters", "--format", "json")
        assert "waiting up to" in letters.stderr, letters.stderr
        status = _spur(own_store, "status", "--format", "json")
        assert '"reachable": true' in status.stdout.split('"store"', 1)[1], status.stdout
    finally:
        _kill_engineers_queries(own_store)
        for thread in busy:
            thread.join(timeout=30)


def test_a_result_past_the_size_limit_is_refused_with_a_hint(own_store: RunningStore) -> None:
    result = _spur(
        own_store,
        "query",
        "SELECT repeat(toString(number), 200) AS x FROM numbers(400000)",
        "--format",
        "csv",
    )
    assert result.returncode == 1
    assert "Hint: the result is larger than one read may return" in result.stderr, result.stderr


def test_output_is_written_as_the_rows_arrive(own_store: RunningStore, tmp_path: Path) -> None:
    # 2 M rows as JSON: the command holds one row at a time, whatever the total.
    out = tmp_path / "rows.json"
    environ = {**os.environ, "SPUR_STATE_DIR": str(own_store.directory.parent)}
    for name in ("SPUR_CLICKHOUSE_URL", "SPUR_CLICKHOUSE_READ_URL"):
        environ.pop(name, None)
    with out.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "spur", "query", "SELECT number AS n FROM numbers(1000000)",
             "--format", "json"],
            env=environ, stdout=sink, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        peak_kb = 0
        while process.poll() is None:
            status = Path(f"/proc/{process.pid}/status")
            try:
                rss = next(line for line in status.read_text().splitlines() if "VmRSS" in line)
                peak_kb = max(peak_kb, int(rss.split()[1]))
            except (OSError, StopIteration):
                pass
            time.sleep(0.05)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    rows = json.loads(out.read_text())
    assert len(rows) == 1_000_000
    assert rows[-1] == {"n": 999_999}
    # A list of a million dicts alone would take a few hundred MB.
    assert peak_kb < 250_000, peak_kb


def test_a_table_shows_at_most_ten_thousand_rows_and_says_so(own_store: RunningStore) -> None:
    result = _spur(own_store, "query", "SELECT number AS n FROM numbers(50000)")
    assert result.returncode == 0, result.stderr
    assert "the first 10,000 rows only" in result.stderr
    assert "│ 9999 " in result.stdout
    assert "│ 10000 " not in result.stdout


def test_a_table_cuts_a_wide_cell_and_says_so(own_store: RunningStore) -> None:
    # Laid out whole, a megabyte cell took rich 1.4 s (900 of them: hours).
    result = _spur(own_store, "query", "SELECT number, repeat('x', 1000000) AS s FROM numbers(20)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("998,000 more characters: --format csv or json shows all") == 20


def test_a_reader_that_goes_away_ends_the_command_quietly(own_store: RunningStore) -> None:
    """`spur query ... | head -1`: exit 1, no traceback, no 'Broken pipe' error line."""
    environ = {
        **os.environ,
        "SPUR_STATE_DIR": str(own_store.directory.parent),
        "SPUR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
    }
    for name in ("SPUR_CLICKHOUSE_URL", "SPUR_CLICKHOUSE_READ_URL"):
        environ.pop(name, None)
    query = subprocess.Popen(
        [sys.executable, "-m", "spur", "query", "--format", "csv",
         "SELECT number AS n FROM numbers(2000000)"],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert query.stdout is not None
    first = query.stdout.readline()
    query.stdout.close()  # the reader goes away, as `head -1` does
    _, stderr = query.communicate(timeout=60)
    assert first.strip() == "n", first
    assert query.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert "Broken pipe" not in stderr, stderr
