"""The store's client looks for ``USE`` at the query's start only, as the driver would find it."""

from __future__ import annotations

from types import SimpleNamespace

from clickhouse_driver import Client
from hypothesis import given
from hypothesis import strategies as st

from spur_sinks.driver import driver_client

# İ, the long s and the Kelvin sign change their length or case oddly when lowered.
ODD = "\u0130\u017f\u212a"
QUERIES = st.text(alphabet="uUsSeE ;\t\nxdb." + ODD, max_size=12) | st.sampled_from(
    ["USE spur", " ;use other ", "use", "use ", "useful", "; ;USE\tx", "INSERT INTO t VALUES"]
)


def database_after(client_class: type[Client], query: str) -> str:
    client = client_class("127.0.0.1")  # connects only when a query is sent
    client.connection = SimpleNamespace(database="before")
    client.track_current_database(query)
    return str(client.connection.database)


@given(query=QUERIES)
def test_the_database_tracked_is_the_drivers(query: str) -> None:
    assert database_after(driver_client(), query) == database_after(Client, query)


def test_a_use_statement_is_still_tracked() -> None:
    assert database_after(driver_client(), " USE spur_audit;") == "spur_audit"
    assert database_after(driver_client(), 'INSERT INTO t FORMAT JSON ["use x"]') == "before"
