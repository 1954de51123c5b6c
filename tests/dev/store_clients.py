"""A clickhouse-driver client of a local store, as one of its accounts (the store's own tests)."""

from __future__ import annotations

from clickhouse_driver import Client

from spur.local_state import RunningStore


def store_client(
    store: RunningStore, user: str, *, timeout: float = 30, **settings: object
) -> Client:
    """``user``'s connection to ``store`` (its generated password), opened on first use;
    ``timeout``: how long a call may wait for the server, in seconds."""
    return Client(
        host="127.0.0.1", port=store.port, user=user, settings=settings,
        password=store.credentials.passwords[user], connect_timeout=5,
        send_receive_timeout=timeout,
    )  # fmt: skip
