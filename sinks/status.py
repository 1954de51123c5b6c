"""Rows and the last insert per table of spur's database, for ``spur status``.

Blocking: one query of ``system.parts``. Raises :class:`spur_sinks.store.StoreError`
(code 81 when spur's database does not exist yet).
"""

from __future__ import annotations

from typing import Any

from spur_sinks.store import Store, sql_string


def table_status(store: Store) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT table, sum(rows) AS rows, toTimeZone(max(modification_time), 'UTC') AS last_insert "
        f"FROM system.parts WHERE database = {sql_string(store.database)} AND active "
        "GROUP BY table ORDER BY table"
    )
    return [
        {"table": r["table"], "rows": int(r["rows"]), "last_insert": r["last_insert"]} for r in rows
    ]
