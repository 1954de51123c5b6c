"""What the local store's gate holds a reader to (spur.dev.store_gate): the bytes
of a request before the engine answers, and connections per account. spur's
own accounts are not held to either.

Found by a helper attacking the store with a reader's password: the client
information of a query (os_user, client_hostname, client_name, quota_key) is
outside every limit of the engine: 150 MB each were taken, and held reads
carrying 1.8 GB of them made the engine 11 GB.
"""

from __future__ import annotations

import contextlib
import getpass

import pytest
from clickhouse_driver import Client

from spur.dev.store_engine import has_own_network
from spur.dev.store_gate import READER_CONNECTIONS, READER_REQUEST_BYTES
from spur.local_state import WRITER, RunningStore


@pytest.fixture
def gated(local_store: RunningStore) -> RunningStore:
    if not has_own_network(local_store.protection):
        pytest.skip(f"the store is not behind its gate here: {local_store.protection}")
    return local_store


def client(store: RunningStore, user: str) -> Client:
    return Client(
        host="127.0.0.1", port=store.port, user=user,
        password=store.credentials.passwords[user], connect_timeout=5, send_receive_timeout=30,
    )  # fmt: skip


def test_a_reader_sending_more_than_a_request_holds_is_cut(
    gated: RunningStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    within = "SELECT length('" + "a" * 250_000 + "') AS n"  # the server's max_query_size
    assert client(gated, "engineer").execute(within) == [(250_000,)]
    monkeypatch.setattr(getpass, "getuser", lambda: "u" * 2 * READER_REQUEST_BYTES)
    with pytest.raises(Exception, match=r"reset|EOF|Broken pipe"):
        client(gated, "engineer").execute("SELECT 1")
    # The writer's is spur's own: not held (and the engine itself takes it).
    assert client(gated, WRITER).execute("SELECT 1") == [(1,)]
    monkeypatch.undo()
    assert client(gated, "engineer").execute("SELECT 2") == [(2,)]
    log = (gated.directory / "store.log").read_text()
    assert "sending over 1,048,576 bytes unanswered" in log


def test_a_reader_holds_at_most_its_connections(gated: RunningStore) -> None:
    with contextlib.ExitStack() as held:
        for _ in range(READER_CONNECTIONS):
            connection = client(gated, "engineer")
            held.callback(connection.disconnect)
            assert connection.execute("SELECT 1") == [(1,)]
        with pytest.raises(Exception, match=r"reset|EOF|Broken pipe"):  # closed by the gate
            client(gated, "engineer").execute("SELECT 1")
        assert client(gated, "ops").execute("SELECT 1") == [(1,)], "another account is served"
        assert client(gated, WRITER).execute("SELECT 1") == [(1,)]
    assert client(gated, "engineer").execute("SELECT 1") == [(1,)], "free again"
