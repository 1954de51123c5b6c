"""What the local store's gate holds a reader to (spur.dev.store_gate,
spur.dev.reader_requests): each packet whole and checked before the engine
gets it, and connections per account. spur's own accounts are not held.

Found by helpers attacking the store with a reader's password: the client
information of a query was taken at 150 MB a field; a 500 KB query parameter
put into 1,000 placeholders took the engine to 8 GB against a 1 GiB limit,
unseen by the read watch for 6 s; pings between 800 KB blocks of external
data passed a cap on bytes sent before an answer.
"""

from __future__ import annotations

import contextlib
import getpass
import socket
import time

import pytest
from clickhouse_driver.errors import ServerException

from spur.dev.reader_requests import READER_MAX_REVISION, READER_REQUEST_BYTES
from spur.dev.store_engine import has_own_network
from spur.dev.store_gate import PACKET_SECONDS, READER_CONNECTIONS
from spur.local_state import WRITER, RunningStore
from spur_sinks.store_errors import ACCESS_DENIED, TOO_MANY_SIMULTANEOUS_QUERIES
from tests.dev.store_clients import store_client
from tests.dev.test_store_hello import hello as greeting

REFUSED = "refused by the local store's gate"


@pytest.fixture
def gated(local_store: RunningStore) -> RunningStore:
    if not has_own_network(local_store.protection):
        pytest.skip(f"the store is not behind its gate here: {local_store.protection}")
    return local_store


def refusal(call: object) -> ServerException:
    with pytest.raises(ServerException) as refused:
        call()  # type: ignore[operator]
    assert refused.value.code == ACCESS_DENIED, refused.value
    assert REFUSED in str(refused.value)
    return refused.value


def test_a_reader_s_oversized_client_field_is_refused_and_the_writer_s_is_not(
    gated: RunningStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    within = "SELECT length('" + "a" * 250_000 + "') AS n"  # the server's max_query_size
    assert store_client(gated, "engineer").execute(within) == [(250_000,)]
    monkeypatch.setattr(getpass, "getuser", lambda: "u" * 2 * READER_REQUEST_BYTES)
    refusal(lambda: store_client(gated, "engineer").execute("SELECT 1"))
    # The writer's is spur's own: not held (and the engine itself takes it).
    assert store_client(gated, WRITER).execute("SELECT 1") == [(1,)]
    monkeypatch.undo()
    assert store_client(gated, "engineer").execute("SELECT 2") == [(2,)]


def test_a_reader_s_query_parameters_settings_and_external_data_are_refused(
    gated: RunningStore,
) -> None:
    placeholders = "SELECT length(concat(" + ", ".join(["{p:String}"] * 1000) + "))"
    with_params = store_client(gated, "engineer", server_side_params=True)
    why = refusal(lambda: with_params.execute(placeholders, {"p": "x" * 500_000}))
    assert "query parameters" in str(why)
    why = refusal(lambda: store_client(gated, "ops", max_memory_usage=10**12).execute("SELECT 1"))
    assert "max_memory_usage" in str(why)
    table = {"name": "t", "structure": [("x", "String")], "data": [{"x": "y" * 1000}] * 800}
    why = refusal(
        lambda: store_client(gated, "billing").execute("SELECT 1", external_tables=[table])
    )
    assert "external tables" in str(why)
    # What the Grafana plugin sends, and pings between queries, pass.
    reader = store_client(gated, "engineer", max_execution_time=5)
    for n in range(3):
        assert reader.execute(f"SELECT {n}") == [(n,)]
        reader.connection.ping()


def test_a_reader_s_packet_must_arrive_whole_in_time(gated: RunningStore) -> None:
    hello = greeting("engineer", gated.credentials.passwords["engineer"], READER_MAX_REVISION)
    with socket.create_connection(("127.0.0.1", gated.port), timeout=PACKET_SECONDS + 10) as raw:
        raw.sendall(hello)
        raw.recv(65536)  # the server's Hello
        raw.sendall(b"\x00" + b"\x01")  # an empty quota key, and a query begun
        started = time.monotonic()
        answer = raw.recv(65536)
        assert answer[:1] == b"\x02", answer  # an exception packet
        assert b"took over" in answer
        assert time.monotonic() - started < PACKET_SECONDS + 5


def test_a_reader_holds_at_most_its_connections(gated_store: RunningStore) -> None:
    # A store of this test's own: other tests' clients hold connections of the
    # session's store until they are collected.
    gated = gated_store
    with contextlib.ExitStack() as held:
        for _ in range(READER_CONNECTIONS):
            connection = store_client(gated, "engineer")
            held.callback(connection.disconnect)
            assert connection.execute("SELECT 1") == [(1,)]
        with pytest.raises(ServerException) as refused:
            store_client(gated, "engineer").execute("SELECT 1")
        assert refused.value.code == TOO_MANY_SIMULTANEOUS_QUERIES
        assert f"holds {READER_CONNECTIONS} connections" in str(refused.value)
        assert store_client(gated, "ops").execute("SELECT 1") == [(1,)], "another account is served"
        assert store_client(gated, WRITER).execute("SELECT 1") == [(1,)]
    assert store_client(gated, "engineer").execute("SELECT 1") == [(1,)], "free again"
