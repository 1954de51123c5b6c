"""``spur retention`` and the retention gauges: each table's oldest row against its policy.

Blocking: reads the store (spur_sinks.retention), one small query per table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spur.settings import Settings
from spur_sinks.retention import table_ages
from spur_sinks.store import Store

# One day of grace: TTL merges run hourly, and parts merge when they can.
TTL_GRACE = dt.timedelta(days=1)


def retention_report(store: Store, settings: Settings) -> list[dict[str, Any]]:
    """Per table that ages: its policy, rows, oldest row and whether that conforms."""
    now = dt.datetime.now(dt.UTC)
    report = []
    for age in table_ages(store):
        kept = age.table.kept
        assert kept is not None
        days = settings.retention.tables.days(kept.policy) if kept.policy else None
        oldest = age.oldest
        conforms = (
            days is None or oldest is None or now - oldest <= dt.timedelta(days=days) + TTL_GRACE
        )
        report.append(
            {
                "table": age.table.name,
                "policy_days": days,
                "policy": kept.why,
                "rows": age.rows,
                "oldest": oldest,
                "oldest_age_days": (
                    round((now - oldest).total_seconds() / 86400, 1) if oldest else None
                ),
                "conforms": conforms,
            }
        )
    return report
