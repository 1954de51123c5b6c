"""tests/shortfall.py tells a lost fold from a stale stored state and a missing action."""

from __future__ import annotations

import re

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_sinks.store import Store
from tests.oracle import expected_windows
from tests.shortfall import explain_windows
from tests.sinks.test_store_contract import messages, pipeline, process


def test_each_kind_of_shortfall_is_named(store: Store) -> None:
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=4, days=2))
    stored, never_sent = actions[:-1], actions[-1]
    process(pipeline(store), store, messages(stored))
    expected = expected_windows(actions)
    last = (never_sent.customer_id, int(never_sent.started_at.timestamp()) // 3600 * 3600)
    lost = next(key for key in expected if key != last)
    store.execute(
        f"DELETE FROM {store.database}.usage_sums WHERE customer_id = {lost[0]} "
        f"AND hour = toDateTime({lost[1]}, 'UTC') "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    told = explain_windows(store, expected, actions)
    n = expected[lost][2]
    # The lost fold: indexed and stored, no sums, the state still there.
    assert re.search(
        rf"\({lost[0]}, {lost[1]}\): oracle {n} actions; sums None .*; "
        rf"state \({n}, \d+\) .*; of the oracle's {n} ids {n} indexed, {n} stored raw",
        told,
    ), told
    # The action never sent: one fewer indexed and stored than the oracle has.
    m = expected[last][2]
    assert re.search(
        rf"\({last[0]}, {last[1]}\): oracle {m} actions; .* ids {m - 1} indexed, {m - 1} stored",
        told,
    ), told
    assert told.startswith("2 windows differ"), told
