"""Dead letters as stored (``spur deadletters``).

Blocking: the report runs two queries (spur_sinks.deadletters).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spur_sinks import deadletters as stored
from spur_sinks.store import Store


def dead_letter_report(
    store: Store, reason: str | None, since: dt.datetime | None, limit: int = 20
) -> dict[str, Any]:
    """Counts per reason, their total and the ``limit`` latest letters."""
    counts = stored.counts_by_reason(store, reason, since)
    return {
        "counts": counts,
        "total": sum(counts.values()),
        # A letter about no one field has none (stored as "").
        "recent": [
            {**row, "field": row["field"] or None}
            for row in stored.latest(store, reason, since, limit)
        ],
    }
