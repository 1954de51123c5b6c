"""Every stored row about a subject (clause 2: information requests).

The rows are those that erasure deletes: the registry's (spur_sinks.tables), so
export and erase never disagree about what "all their data" is.

Blocking: one query per table that may hold the subject's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from spur_sinks.erasure import predicates
from spur_sinks.store import Store
from spur_sinks.tables import SubjectKind, table


def export_rows(
    store: Store, kind: SubjectKind, value: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(table, row)`` for every row about the subject, table by table."""
    for name, where in predicates(kind, value).items():
        # Append-only tables (plain MergeTree): every row is distinct, and FINAL is refused.
        final = "" if table(name).append_only else " FINAL"
        # Computed columns (actions.ended_at) are the subject's data too; the
        # stored forms they are computed from are not shown.
        hidden = table(name).stored_forms
        columns = f"* EXCEPT ({', '.join(hidden)})" if hidden else "*"
        query = f"SELECT {columns} FROM {store.database}.{name}{final} WHERE {where}"
        for row in store.query(f"{query} SETTINGS asterisk_include_alias_columns = 1"):
            yield name, row
