"""Billing query benchmark: one month for every customer, over the hourly aggregates.

Run: ``.venv/bin/python -m bench.billing_query [--customers N]``. Billing reads
``usage_hourly``, whose size is customers x hours, not actions: a month of
10 million actions from 2,000 customers active every hour is 1.44 million
windows. The windows are inserted directly (the pipeline's own benchmark is
bench.worker), then ``spur billing``'s query is timed (best of 5) and checked
against the inserted totals. Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from bench.local import local_store, stop_on_sigterm, writer
from spur.operations.billing import billing
from spur.settings import Settings
from spur_sinks.migrate import apply_migrations
from spur_sinks.windows import usage_columns
from spur_streams.usage import UsageState, WindowKey

HOURS = 30 * 24


def windows(customers: range, start: dt.datetime, per_window: int) -> dict[WindowKey, UsageState]:
    """Every hour of the month for ``customers``, each of ``per_window`` actions.

    Written by the worker's own writer of usage_hourly (spur_sinks.windows.usage_columns);
    each window's version is its hour, so the newest is the latest hour written."""
    return {
        WindowKey(c, start + dt.timedelta(hours=h)): UsageState(
            bytes_in=1_000 * per_window, bytes_out=50_000 * per_window, actions=per_window,
            error_actions=0, duration_ms=100 * per_window, version=h,
        )
        for c in customers
        for h in range(HOURS)
    }  # fmt: skip


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--actions", type=int, default=10_000_000)
    args = parser.parse_args()
    per_window = max(1, -(-args.actions // (args.customers * HOURS)))  # rounded up
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with (
        tempfile.TemporaryDirectory(prefix="spur-bench-") as tmp,
        local_store(Path(tmp), "bench") as running,
    ):
        store = writer(running, "bench")
        apply_migrations(store, Settings().retention.tables)
        for first in range(1, args.customers + 1, 200):
            customers = range(first, min(first + 200, args.customers + 1))
            store.insert(
                "usage_hourly", usage_columns(windows(customers, start, per_window), start)
            )
        timings = []
        for _ in range(5):
            began = time.perf_counter()
            usage = billing(store, "2026-11")
            timings.append(time.perf_counter() - began)
        assert len(usage) == args.customers
        assert sum(u.actions for u in usage) == per_window * args.customers * HOURS
    print(
        json.dumps(
            {
                "actions_represented": per_window * args.customers * HOURS,
                "windows": args.customers * HOURS,
                "customers": args.customers,
                "billing_query_seconds_best_of_5": round(min(timings), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
