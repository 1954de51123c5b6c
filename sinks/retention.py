"""How old the oldest row of each table is, for ``spur retention`` and its gauges.

Which tables age, by which column: the registry's (spur_sinks.tables). Whether
that conforms to the policy is the read model's (spur.operations.retention).

Blocking: one small query per table. Raises :class:`spur_sinks.store.StoreError`.
"""

from __future__ import annotations

import datetime as dt
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
