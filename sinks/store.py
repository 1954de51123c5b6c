"""ClickHouse over its native protocol (clickhouse-driver), behind one small interface.

The same code talks to a production server or cluster and to the local
server that ``spur store`` runs (the chdb engine serving the native
protocol, see spur.dev.local_store): every spur process is a client.

Threads: a clickhouse-driver connection serves one query at a time, so each
thread gets a connection of its own (opened on its first call, all closed by
:meth:`ServerStore.close`); a store object may be shared between threads.

Blocking: every method blocks the calling thread; async callers use
``asyncio.to_thread``. Every call has a timeout. Raises :class:`StoreError`
carrying ClickHouse's error code when it has one; ``retriable`` says whether
trying again may help.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from spur_sinks.driver import driver_client
from spur_sinks.json_columns import json_columns
from spur_sinks.slices import EncodedColumns
from spur_sinks.store_errors import TIMEOUT_EXCEEDED, StoreError
from spur_sinks.url import ReadLimits, StoreURL

__all__ = [
    "Columns",
    "ServerStore",
    "Store",
    "StoreError",
    "column_names",
    "open_store",
    "row_count",
    "sql_string",
]

# Column name -> values; or rows encoded a slice at a time (spur_sinks.slices).
Columns = Mapping[str, Sequence[Any]] | EncodedColumns


def column_names(columns: Columns) -> list[str]:
    return list(columns.pieces if isinstance(columns, EncodedColumns) else columns)


def row_count(columns: Columns) -> int:
    if isinstance(columns, EncodedColumns):
        return columns.rows
    return max((len(values) for values in columns.values()), default=0)


def sql_string(value: str) -> str:
    """A ClickHouse string literal for ``value`` (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# The table name a query passes ``keys`` under (see Store.query).
PROBE = "__spur_probe__"


class Store(Protocol):
    """What spur needs from ClickHouse (:class:`ServerStore`, and test doubles)."""

    database: str

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, DELETE, OPTIMIZE)."""

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; rows as dicts, integers as Python ints (also 128-bit sums).

        With ``keys``, the SELECT can read them as the table :data:`PROBE`
        (one String column ``key``): how thousands of ids reach a lookup
        without megabytes of SQL text to parse.
        """

    def stream(self, sql: str, deadline_seconds: float) -> Iterator[dict[str, Any]]:
        """Run a SELECT; rows as they arrive. At ``deadline_seconds`` the query is cut
        off (the server cancels it) and :class:`StoreError` code 159 raised."""

    def read_only(self, limits: ReadLimits | None = None) -> None:
        """From now on refuse every write; unqualified tables are spur's.

        ``limits`` go with every later query where the account may still
        change settings (a read-only account's profile fixes its own).
        """

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        """Insert equally long columns into ``table`` in one block.

        ``dedup_token`` makes a retried insert of the same block a no-op on
        tables with insert deduplication.
        """

    def close(self) -> None: ...


class ServerStore:
    """A ClickHouse server over the native protocol (TLS with ``clickhouses://``)."""

    def __init__(self, url: StoreURL, timeout_seconds: float, *, in_database: bool = False) -> None:
        """``in_database``: unqualified table names are the database's (ad-hoc reads);
        otherwise sessions start in ``default``, so the database may not exist yet."""
        self.database = url.database
        self.url = url
        self._session_database = url.database if in_database else "default"
        self._timeout = timeout_seconds
        self._settings: dict[str, Any] = {}
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()

    def _new_client(self) -> Any:
        """A connection of its own (clickhouse-driver ships no type hints)."""
        return driver_client()(
            host=self.url.host,
            port=self.url.port,
            user=self.url.user,
            password=self.url.password.get_secret_value(),
            database=self._session_database,
            secure=self.url.secure,
            connect_timeout=min(10.0, self._timeout),
            send_receive_timeout=self._timeout,
            settings={"use_numpy": False, **self._settings},
        )

    def _client(self) -> Any:
        """This thread's connection."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client()
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def stream(self, sql: str, deadline_seconds: float) -> Iterator[dict[str, Any]]:
        """Rows as the server sends them, on a connection of its own that is closed at
        the deadline: the server cancels a query whose client is gone, also one whose
        work inside a block never reaches its own time check."""
        client = self._new_client()
        cut_off = threading.Event()  # set before the connection is closed, so never late

        def cut_connection() -> None:
            cut_off.set()
            client.disconnect()

        cut = threading.Timer(deadline_seconds, cut_connection)
        cut.daemon = True
        cut.start()
        try:
            names: list[str] | None = None
            for item in client.execute_iter(sql, with_column_types=True):
                if names is None:
                    names = [name for name, _type in item]
                    continue
                yield dict(zip(names, item, strict=True))
        except Exception as exc:
            if cut_off.is_set():
                raise StoreError(
                    "query cancelled: it ran past its time limit (the command gave up after "
                    f"{deadline_seconds:.0f} s)",
                    code=TIMEOUT_EXCEEDED,
                ) from exc
            raise StoreError.wrap(exc, "query failed") from exc
        finally:
            cut.cancel()
            client.disconnect()

    def execute(self, sql: str) -> None:
        try:
            self._client().execute(sql)
        except Exception as exc:
            raise StoreError.wrap(exc, "statement failed") from exc

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        probe = {
            "name": "spur_probe",
            "structure": [("key", "String")],
            # Rows as tuples: the driver turns dicts into them one by one.
            "data": [(key,) for key in keys or ()],
        }
        try:
            rows, types = self._client().execute(
                sql.replace(PROBE, "spur_probe"),
                with_column_types=True,
                external_tables=[probe] if PROBE in sql else None,
            )
        except Exception as exc:
            raise StoreError.wrap(exc, "query failed") from exc
        names = [name for name, _type in types]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def read_only(self, limits: ReadLimits | None = None) -> None:
        """Refuse writes from now on (on every connection, also the open ones).

        For the writer's account used to read; a read-only account is refused
        by its profile already (with the profile's limits), and may not even
        restate a setting."""
        if int(self.query("SELECT getSetting('readonly') AS readonly")[0]["readonly"]):
            return
        # 2: the session may still send settings: the limits, with every query.
        # Computed columns (actions.ended_at) in SELECT *, as the readers' profile has them.
        # Not the per-user totals: they would count the workers' own inserts
        # (this is the writer's account) and could make this read wait on them.
        per_query = {
            name: value
            for name, value in (limits.as_query_settings() if limits else {}).items()
            if not name.endswith("_for_user")
        }
        wanted: dict[str, Any] = {
            "readonly": 2,
            "asterisk_include_alias_columns": 1,
            **per_query,
        }
        self._settings.update(wanted)
        with self._clients_lock:
            for client in self._clients:
                client.settings.update(wanted)

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        """One block, sent as JSON columns that the server parses (see :func:`json_columns`);
        values msgspec cannot encode (e.g. ``ipaddress`` objects) go through the driver's."""
        settings: dict[str, Any] = {**WHOLE_INSERT}
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        into = f"INSERT INTO {self.database}.{table} ({', '.join(column_names(columns))})"
        try:
            try:
                body = json_columns(columns)
            except (OverflowError, TypeError):
                if isinstance(columns, EncodedColumns):
                    raise  # encoded by msgspec already: json_columns only joins it
                self._client().execute(
                    f"{into} VALUES",
                    [list(values) for values in columns.values()],
                    columnar=True,
                    settings=settings,
                )
            else:
                query = f"{into} FORMAT JSONCompactColumns {body}"
                del body  # the driver encodes the query once more: two copies, not three
                self._client().execute(query, settings={**JSON_INSERT_SETTINGS, **settings})
        except Exception as exc:
            raise StoreError.wrap(exc, f"insert into {table} failed") from exc

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.disconnect()
        self._local = threading.local()


def as_utc(value: object) -> dt.datetime:
    """A timestamp read from the store (a datetime, or its text) as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


# How the server reads json_columns (measured on the local store): RFC 3339
# times with any offset, sub-millisecond digits truncated as DateTime64(3)
# keeps them (rounding could carry 10:59:59.9996 into the next hour, away from
# its window); null as the column's default ('' for strings, 0, the nil UUID,
# an empty map); IPv4 text into IPv6 columns as its mapped address.
JSON_INSERT_SETTINGS = {"date_time_input_format": "best_effort", "input_format_null_as_default": 1}

# An insert the server received is carried out whole, even if its client dies
# meanwhile (a worker killed -9). Why: the server writes an insert's
# materialized views one after another, and while it runs it checks the
# client's connection every `interactive_delay` (100 ms); a client gone makes
# it stop between two views. Measured on the fold (a client killed 0-550 ms
# into a 200,000-row fold, 12 times): once, action_ids and capacity_states
# held the rows and usage_sums and usage_quarters did not, so the ids counted
# as folded were never billed. Checked this rarely, the fold ends first.
WHOLE_INSERT = {"interactive_delay": 3_600_000_000}  # microseconds: an hour


def open_store(url: StoreURL, timeout_seconds: float = 30.0, *, in_database: bool = False) -> Store:
    """A store for ``url``; connections open on first use (errors surface then)."""
    return ServerStore(url, timeout_seconds, in_database=in_database)
