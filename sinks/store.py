"""Two ClickHouse backends behind one small interface, sharing all SQL.

``chdb://`` runs the ClickHouse engine in this process on one directory (the
default and what tests run on); ``clickhouse://`` / ``clickhouses://`` talk to
a server over the native protocol with clickhouse-driver.

Blocking: every method blocks the calling thread; async callers use
``asyncio.to_thread``. Raises :class:`StoreError` carrying ClickHouse's error
code when it has one; ``retriable`` says whether trying again may help.
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import msgspec
import numpy as np
import pandas as pd

from spur.settings import StoreURL

# Codes of errors that are about the request, not the moment: retrying the
# same statement cannot succeed (syntax, unknown table/column, type, readonly).
_PERMANENT_CODES = frozenset({27, 36, 41, 43, 44, 46, 47, 53, 60, 62, 70, 81, 164, 497})
_CODE = re.compile(r"Code: (\d+)")
_INT64_MAX = 2**63 - 1

Columns = Mapping[str, Sequence[Any]]


def sql_string(value: str) -> str:
    """A ClickHouse string literal for ``value`` (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class StoreError(RuntimeError):
    """A ClickHouse statement failed. ``code`` is ClickHouse's error code, if any."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @property
    def retriable(self) -> bool:
        return self.code not in _PERMANENT_CODES

    @classmethod
    def wrap(cls, exc: Exception, what: str) -> StoreError:
        text = str(exc)
        match = _CODE.search(text)
        code = getattr(exc, "code", None) or (int(match.group(1)) if match else None)
        first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return cls(f"{what}: {first_line}", code)


# The table name a query passes ``keys`` under (see Store.query).
PROBE = "__spur_probe__"


class Store(Protocol):
    """What spur needs from ClickHouse; both backends implement exactly this."""

    database: str

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, DELETE, OPTIMIZE)."""

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; rows as dicts, integers as Python ints (also 128-bit sums).

        With ``keys``, the SELECT can read them as the table :data:`PROBE`
        (one String column ``key``): how thousands of ids reach a lookup
        without megabytes of SQL text to parse.
        """

    def read_only(self) -> None:
        """From now on refuse every write (ad-hoc SQL); unqualified tables are spur's."""

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        """Insert equally long columns into ``table`` in one block.

        ``dedup_token`` makes a retried insert of the same block a no-op on
        tables with insert deduplication.
        """

    def close(self) -> None: ...


class ChdbStore:
    """The embedded engine on one directory, owned by this process (a lock file)."""

    def __init__(self, url: StoreURL) -> None:
        from chdb import session as chdb_session

        assert url.path is not None
        url.path.mkdir(parents=True, exist_ok=True)
        self.database = url.database
        self.path = url.path
        opened_here = url.path.resolve() in _OPENED_IN_THIS_PROCESS
        if not opened_here and _locked_by_another_process(url.path / "status"):
            raise StoreError(
                f"the embedded store {url.path} is owned by another process (a running "
                "spur worker?): stop it first; spur billing and spur query read through it"
            )
        try:
            # chdb ships no type hints; its Session is used through this Any.
            self._session: Any = cast(Any, chdb_session).Session(str(url.path))
            # Integers as JSON numbers (64- and 128-bit too): json.loads keeps them exact.
            self._session.query("SET output_format_json_quote_64bit_integers = 0")
        except Exception as exc:
            raise StoreError.wrap(exc, f"opening the embedded store {url.path}") from exc
        _OPENED_IN_THIS_PROCESS.add(url.path.resolve())

    def execute(self, sql: str) -> None:
        try:
            self._session.query(sql)
        except Exception as exc:
            raise StoreError.wrap(exc, "statement failed") from exc

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        probe = pd.DataFrame({"key": list(keys or ())})  # noqa: F841  # read by chdb by name
        try:
            result = self._session.query(sql.replace(PROBE, "Python(probe)"), "JSONEachRow")
        except Exception as exc:
            raise StoreError.wrap(exc, "query failed") from exc
        text = result.bytes().decode() if hasattr(result, "bytes") else str(result)
        return [json.loads(line) for line in text.splitlines() if line]

    def read_only(self) -> None:
        self.execute(f"USE {self.database}")
        self.execute("SET readonly = 1")

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        frame, select = _frame_for_chdb(columns)  # noqa: RUF059  # read by chdb, see below
        settings = f" SETTINGS insert_deduplication_token = '{dedup_token}'" if dedup_token else ""
        names = ", ".join(columns)
        statement = (
            f"INSERT INTO {self.database}.{table} ({names}){settings} "
            f"SELECT {select} FROM Python(frame)"
        )
        try:
            # chdb resolves `Python(frame)` by the local variable's name.
            self._session.query(statement)
        except Exception as exc:
            raise StoreError.wrap(exc, f"insert into {table} failed") from exc

    def close(self) -> None:
        self._session.close()


# chdb's lock is a flock on <store>/status; our own second session on the same
# directory (the worker's read-only one) shares the engine and is fine.
_OPENED_IN_THIS_PROCESS: set[Path] = set()


def _locked_by_another_process(status_file: Path) -> bool:
    """Whether a ClickHouse engine in another process holds the store's lock file."""
    if not status_file.exists():
        return False
    with status_file.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _frame_for_chdb(columns: Columns) -> tuple[pd.DataFrame, str]:
    """A DataFrame chdb can read, and the SELECT list that restores the types.

    chdb cannot read dict objects from a DataFrame, so dict columns travel as
    JSON text and are parsed back into ``Map(String, String)`` in SQL; and
    integers beyond 64 bits would pass through float64 and lose digits, so
    such columns travel as decimal text into ``UInt128``.
    """
    data: dict[str, Any] = {}  # lists, arrays and Series, by column
    select = []
    for name, values in columns.items():
        if values and isinstance(values[0], dict):
            data[name] = [msgspec.json.encode(value).decode() for value in values]
            select.append(f"JSONExtract({name}, 'Map(String, String)') AS {name}")
        elif values and isinstance(values[0], int) and max(values) > _INT64_MAX:
            data[name] = [str(value) for value in values]
            select.append(f"toUInt128({name}) AS {name}")
        elif values and isinstance(values[0], int) and not isinstance(values[0], bool):
            # An int64 array: pandas' own inference over a list costs 3x the insert.
            data[name] = np.fromiter(values, dtype=np.int64, count=len(values))
            select.append(name)
        elif values and isinstance(values[0], str):
            # Plain objects: pandas would convert them to Arrow strings first.
            data[name] = pd.Series(values, dtype=object)
            select.append(name)
        else:
            data[name] = values
            select.append(name)
    return pd.DataFrame(data, copy=False), ", ".join(select)


class ServerStore:
    """A ClickHouse server over the native protocol (TLS with ``clickhouses://``)."""

    def __init__(self, url: StoreURL, timeout_seconds: float) -> None:
        from clickhouse_driver import Client

        self.database = url.database
        self._client = Client(
            host=url.host,
            port=url.port,
            user=url.user,
            password=url.password.get_secret_value(),
            secure=url.secure,
            send_receive_timeout=timeout_seconds,
            settings={"use_numpy": False},
        )

    def execute(self, sql: str) -> None:
        try:
            self._client.execute(sql)
        except Exception as exc:
            raise StoreError.wrap(exc, "statement failed") from exc

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        probe = {
            "name": "spur_probe",
            "structure": [("key", "String")],
            "data": [{"key": key} for key in keys or ()],
        }
        try:
            rows, types = self._client.execute(
                sql.replace(PROBE, "spur_probe"),
                with_column_types=True,
                external_tables=[probe] if PROBE in sql else None,
            )
        except Exception as exc:
            raise StoreError.wrap(exc, "query failed") from exc
        names = [name for name, _type in types]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def read_only(self) -> None:
        self.execute(f"USE {self.database}")
        self._client.settings["readonly"] = 1

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else {}
        names = ", ".join(columns)
        try:
            self._client.execute(
                f"INSERT INTO {self.database}.{table} ({names}) VALUES",
                list(columns.values()),
                columnar=True,
                settings=settings,
            )
        except Exception as exc:
            raise StoreError.wrap(exc, f"insert into {table} failed") from exc

    def close(self) -> None:
        self._client.disconnect()


def open_reader(url: StoreURL, state_dir: Path, timeout_seconds: float = 30.0) -> Store:
    """A store for reading: through the running worker if it owns the embedded store."""
    from sinks.remote import RemoteStore, worker_state

    if url.embedded:
        state = worker_state(state_dir)
        if state is not None:
            return RemoteStore(state["url"], state["token"], url.database, timeout_seconds)
    return open_store(url, timeout_seconds)


def open_store(url: StoreURL, timeout_seconds: float = 30.0) -> Store:
    """Open the backend the URL names. Raises :class:`StoreError` if it cannot."""
    if url.embedded:
        return ChdbStore(url)
    return ServerStore(url, timeout_seconds)
