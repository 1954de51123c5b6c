"""``make bench``: every benchmark in one run, one JSON summary with the targets.

Each benchmark runs in its own process, with a broker and a local ClickHouse
server of its own, and prints JSON; this collects them, adds the ratios the issue's
targets are stated in: against the one-worker live rate of the same run, the
shuffled backfill's rate, two workers' rate on the same live workload, and
the rate when every action is mis-keyed (each detoured once by the worker).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

# 200,000 actions over 2 h of event time, in time order: live traffic.
LIVE = ["bench.worker", "--actions", "200000", "--span-hours", "2"]

RUNS: dict[str, list[str]] = {
    "client": ["bench.client", "--actions", "100000"],
    "worker_live": LIVE,
    # The same live workload through two workers in one consumer group,
    # sharing the broker, the store and the cores.
    "worker_live_two_workers": [*LIVE, "--workers", "2", "--no-baselines"],
    # The same live workload with every action on a partition other than its
    # id's: the worker re-publishes each to its partition and reads it again.
    "worker_live_miskeyed": [*LIVE, "--miskeyed", "--no-baselines"],
    "worker_backfill": [
        "bench.worker",
        "--actions",
        "200000",
        "--span-hours",
        "672",
        "--no-baselines",
    ],
    # The same month in random order: a backfill, or spools re-sent after an
    # outage. Billed exactly (issue 11); target: at least half the live rate.
    "worker_backfill_shuffled": [
        "bench.worker",
        "--actions",
        "200000",
        "--span-hours",
        "672",
        "--shuffle",
        "--no-baselines",
    ],
    "store": ["bench.store", "--actions", "500000"],
    # What routing costs per action, keyed right and mis-keyed, beside validation.
    "route": ["bench.route"],
    "billing": ["bench.billing"],
    "latency": ["bench.latency", "--rate", "5000", "--seconds", "20"],
}


def run(module_and_args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", *module_and_args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:  # a benchmark's own checks failed, or it crashed: say why
        raise RuntimeError(f"{' '.join(module_and_args)} failed:\n{done.stderr[-5000:]}")
    start = done.stdout.index("{")
    figures: dict[str, Any] = json.loads(done.stdout[start:])
    return figures


def main() -> None:
    results = {}
    for name, args in RUNS.items():
        print(f"running {name}...", file=sys.stderr)
        results[name] = run(args)
    live = results["worker_live"]
    shuffled = results["worker_backfill_shuffled"]
    two = results["worker_live_two_workers"]
    miskeyed = results["worker_live_miskeyed"]
    for compared in (shuffled, two, miskeyed):
        compared["ratio_to_live"] = round(
            compared["worker_per_second"] / live["worker_per_second"], 3
        )
    summary = {
        "machine": "2 cores, local Kafka 3.9.2 broker, local ClickHouse 26.9 server (chdb engine)",
        "results": results,
        "targets": {
            "end_to_end_events_per_second >= 50000": live["worker_per_second"],
            "ratio_to_raw_drain >= 0.6": live["ratio_worker_to_raw_drain"],
            "ratio_to_quix_streams_peer >= 1.0": live.get(
                "ratio_worker_to_quix_peer", live.get("quix_peer")
            ),
            "shuffled_backfill_actions_per_second": shuffled["worker_per_second"],
            "shuffled_backfill_ratio_to_live >= 0.5": shuffled["ratio_to_live"],
            "two_workers_actions_per_second": two["worker_per_second"],
            "two_workers_ratio_to_one_worker_live": two["ratio_to_live"],
            "miskeyed_100pct_actions_per_second": miskeyed["worker_per_second"],
            "miskeyed_100pct_ratio_to_one_worker_live": miskeyed["ratio_to_live"],
            "route_us_per_correctly_keyed_action <= 1": results["route"][
                "correctly_keyed_us_per_action"
            ],
            "bytes_per_actions_row <= 20": results["store"]["bytes_per_action_row"],
            "worker_peak_rss_mb <= 600": live["worker_peak_rss_mb"],
            "worker_peak_anonymous_rss_mb (heap, without shared library pages)": live[
                "worker_peak_anonymous_rss_mb"
            ],
            "p99_ms_at_5000_per_second <= 1000": results["latency"]["p99_ms"],
            "one_month_billing_query_seconds_over_10M_actions": results["billing"][
                "billing_query_seconds_best_of_5"
            ],
        },
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
