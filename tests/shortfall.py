"""Where a window's count went wrong, read from the store: for a failing test's message.

A fault test that finds a window short (or over) of its oracle says only
that; whether the fold was lost, the sums are right and only the rewritten
state stale, or the action never reached the store are three different
bugs. :func:`explain_windows` tells them apart per window: the oracle's
count, the folded sums (``usage_sums``: actions, updates), the rewritten
state billing reads (``usage_hourly`` FINAL: actions, version), and for the
oracle's actions of that window how many are indexed (``action_ids``) and
stored raw (``actions``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from spur_schemas.events import Action
from spur_sinks.reconcile import hourly_window_states, summed_windows
from spur_sinks.store import Store

MOST_WINDOWS = 12  # explained in full; the rest are counted
# Every hour a test's simulated actions can fall in (the store's DateTime range).
EVERY_HOUR = (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(2106, 1, 1, tzinfo=dt.UTC))


def explain_windows(
    store: Store,
    expected: Mapping[tuple[int, int], tuple[int, ...]],
    actions: Iterable[Action],
) -> str:
    """One line per window whose sums or stored state differ from ``expected``
    (tests/oracle.py's ``expected_windows`` of ``actions``)."""
    sums = {
        key: (int(row["actions"]), int(row["updates"]))
        for key, row in summed_windows(store, *EVERY_HOUR).items()
    }
    states = {
        key: (int(row["actions"]), int(row["version"]))
        for key, row in hourly_window_states(store, *EVERY_HOUR).items()
    }
    wrong = sorted(
        key
        for key in set(expected) | set(sums) | set(states)
        if not (_count(expected, key) == sums.get(key, (0, 0))[0] == states.get(key, (0, 0))[0])
    )
    if not wrong:
        return "every window's sums and stored state match the oracle"
    ids_of: dict[tuple[int, int], list[str]] = {}
    for action in actions:
        key = (action.customer_id, int(action.started_at.timestamp()) // 3600 * 3600)
        if key in wrong[:MOST_WINDOWS]:
            ids_of.setdefault(key, []).append(str(action.action_id))
    lines = [f"{len(wrong)} windows differ (oracle / usage_sums / usage_hourly FINAL):"]
    for key in wrong[:MOST_WINDOWS]:
        ids = sorted(set(ids_of.get(key, [])))
        indexed, stored = _found(store, ids)
        lines.append(
            f"  {key}: oracle {_count(expected, key)} actions; sums {sums.get(key)} "
            f"(actions, updates); state {states.get(key)} (actions, version); "
            f"of the oracle's {len(ids)} ids {indexed} indexed, {stored} stored raw"
        )
    return "\n".join(lines)


def _count(expected: Mapping[tuple[int, int], tuple[int, ...]], key: tuple[int, int]) -> int:
    return expected[key][2] if key in expected else 0


def _found(store: Store, ids: list[str]) -> tuple[int, int]:
    """How many of ``ids`` the dedup index holds, and how many raw rows."""
    if not ids:
        return 0, 0
    listed = ", ".join(f"toUUID('{action_id}')" for action_id in ids)
    counts = [
        store.query(
            f"SELECT uniqExact(action_id) AS n FROM {store.database}.{table} "
            f"WHERE action_id IN ({listed})"
        )[0]["n"]
        for table in ("action_ids", "actions")
    ]
    return int(counts[0]), int(counts[1])
