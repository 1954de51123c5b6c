"""How old the oldest row of each table is, for ``spur retention`` and its gauges;
the TTLs the store's tables have and its clock, for ``spur reconcile``.

Which tables age, by which column: the registry's (spur_sinks.tables). Whether
that conforms to the policy is the read model's (spur.operations.retention).

Blocking: one small query per table. Raises :class:`spur_sinks.store.StoreError`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from spur_sinks.store import Store
from spur_sinks.tables import Table, kept_tables


@dataclass(frozen=True)
class TableAge:
    table: Table
    rows: int
    oldest: dt.datetime | None  # None: the table is empty


def table_ages(store: Store) -> list[TableAge]:
    """Rows and the oldest row's time (of its retention column), per kept table."""
    ages = []
    for table in kept_tables():
        assert table.kept is not None
        row = store.query(
            f"SELECT count() AS rows, toUnixTimestamp(min({table.kept.column})) AS oldest "
            f"FROM {store.database}.{table.name}"
        )[0]
        rows = int(row["rows"])
        oldest = dt.datetime.fromtimestamp(int(row["oldest"]), dt.UTC) if rows else None
        ages.append(TableAge(table, rows, oldest))
    return ages


def store_clock(store: Store) -> dt.datetime:
    """The store's clock: the one its TTLs delete rows by."""
    (row,) = store.query("SELECT toUnixTimestamp64Milli(now64(3, 'UTC')) AS ms")
    return dt.datetime.fromtimestamp(int(row["ms"]) / 1000, dt.UTC)


# The tables each comparison reads (repair writes), by whose TTL rows may go.
_USAGE_TABLES = ("actions", "action_ids", "usage_hourly", "usage_sums")
_CAPACITY_TABLES = ("actions", "action_ids", "capacity_minutely", "capacity_states")
_TTL_DAYS = re.compile(r"\bTTL\b.*?toIntervalDay\((\d+)\)")


def kept_days(store: Store) -> tuple[int | None, int | None]:
    """The days after which the store's TTLs may delete rows usage's comparison
    needs, and capacity's: the shortest TTL of the tables each reads, as the
    store has them (compiled in at its first migration, whatever the settings
    say now). None: no table of it has a TTL."""
    rows = store.query(
        f"SELECT name, create_table_query FROM system.tables "
        f"WHERE database = '{store.database}' "
        f"AND name IN {tuple(sorted(set(_USAGE_TABLES) | set(_CAPACITY_TABLES)))}"
    )
    days = {}
    for row in rows:
        found = _TTL_DAYS.search(str(row["create_table_query"]))
        if found:
            days[str(row["name"])] = int(found.group(1))

    def shortest(tables: tuple[str, ...]) -> int | None:
        return min((days[t] for t in tables if t in days), default=None)

    return shortest(_USAGE_TABLES), shortest(_CAPACITY_TABLES)
