"""Which ClickHouse a spur process talks to, and as whom.

``SPUR_CLICKHOUSE_URL`` names a server (or cluster node); unset, it is the
local store that ``spur dev up`` or ``spur store`` runs in
``<state_dir>/store`` (spur.dev.local_store), whose port and generated
credentials spur reads from that directory (spur.local_state: no dev tool
is imported here). Writers (workers, erase, billing close, repair)
connect as the writer; reads connect as a read-only user:
``SPUR_CLICKHOUSE_READ_URL``, or the local store's ``engineer``/``billing``,
or else the writer's URL with writes refused by the session.

Blocking: reads a small state file. Raises :class:`NoStoreError` when no
store is configured and no local store runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from spur.local_state import WRITER, running_store
from spur.settings import Settings, parse_store_url
from spur_sinks.store import Store, StoreError, open_store
from spur_sinks.store_errors import NETWORK_ERROR
from spur_sinks.tables import Reader  # the read-only roles, with their grants
from spur_sinks.url import StoreURL

__all__ = [
    "NoStoreError", "Reader", "StoreOpener", "describe", "open_privileged_reader",
    "open_reader", "open_status_reader", "open_writer", "writer_url",
]  # fmt: skip

# How a process opens the store it writes to: open_writer, unless its caller
# wraps it (spur.worker.process.run_worker takes one, so that the outage
# tests can run the real worker over a store that fails on demand).
StoreOpener = Callable[[Settings], Store]


class NoStoreError(StoreError):
    """No store to talk to; the hint says how to start or name one."""

    default_hint = (
        "start one with `spur dev up` (or `spur store` in another terminal), or set "
        "SPUR_CLICKHOUSE_URL=clickhouse://user:password@host:9000/spur"
    )


def _local_url(settings: Settings, user: str) -> StoreURL:
    running = running_store(settings.local.store_dir)
    if running is None:
        raise NoStoreError(f"no local store runs in {settings.local.store_dir}", code=NETWORK_ERROR)
    return parse_store_url(running.url(user))


def writer_url(settings: Settings) -> StoreURL:
    if settings.store.url is not None:
        return parse_store_url(settings.store.url.get_secret_value())
    return _local_url(settings, WRITER)


def open_writer(settings: Settings) -> Store:
    """The store as its writer: workers and the commands that change data."""
    return open_store(writer_url(settings), settings.store.insert_timeout_seconds)


def open_privileged_reader(settings: Settings) -> Store:
    """The writer's account with writes refused by the session: for reads that
    need every table (export of a subject, retention, reconcile), which no
    read-only role is granted."""
    store = open_store(
        writer_url(settings), settings.store.insert_timeout_seconds, in_database=True
    )
    store.read_only(settings.store.read_limits)  # the limits go with each query
    return store


def open_status_reader(settings: Settings) -> Store:
    """The store for `spur status`'s own fixed reads of the system tables: the writer's
    account where spur has it (readers' ad-hoc queries share a concurrency cap per
    account and could lock status out), else the engineer's. Connects on first use."""
    if settings.store.url is None and running_store(settings.local.store_dir) is None:
        return open_reader(settings)
    return open_store(writer_url(settings), settings.store.insert_timeout_seconds)


def open_reader(settings: Settings, user: Reader = "engineer") -> Store:
    """The store as a read-only user (``user`` for the local store)."""
    if settings.store.read_url is not None:
        url = parse_store_url(settings.store.read_url.get_secret_value())
    elif settings.store.url is None:
        url = _local_url(settings, user)
    else:
        return open_privileged_reader(settings)
    # A read-only account: its profile refuses writes and setting changes and
    # sets the limits (the local store's: generated from SPUR_QUERY_*).
    return open_store(url, settings.store.insert_timeout_seconds, in_database=True)


def describe(settings: Settings) -> str:
    """Where the store is, for messages and `spur status` (never a password)."""
    if settings.store.url is not None:
        return parse_store_url(settings.store.url.get_secret_value()).redacted()
    try:
        return replace(_local_url(settings, "engineer"), user="*").redacted() + " (local store)"
    except NoStoreError:
        return f"local store in {settings.local.store_dir} (not running)"


def local_store_protection(settings: Settings) -> str | None:
    """The running local store's protection (docs/security.md); None if no local store."""
    if settings.store.url is not None:
        return None
    running = running_store(settings.local.store_dir)
    return None if running is None else running.protection
