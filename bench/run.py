"""``make bench``: every benchmark in one run, one JSON summary with the targets.

Each benchmark runs in its own process, with a broker and a local ClickHouse
server of its own, and prints JSON; this collects them and adds the ratios
the targets are stated in: against the live rate of the same run (the better
of one worker with one and with two processes, `spur worker --processes 2`),
the shuffled backfill's rate and the rate when every action is mis-keyed
(each detoured once by the worker).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

from bench.local import stop_on_sigterm

# 600,000 actions over 2 h of event time, in time order: live traffic. Fifteen
# batches of 40,000: with 200,000 (five) the second process of a two-process
# worker joined when most was read, and the rate was one process's.
LIVE = ["bench.worker", "--actions", "600000", "--span-hours", "2"]
# 200,000 actions over a month (672 h) of event time: a backfill.
MONTH = ["bench.worker", "--actions", "200000", "--span-hours", "672"]
SHUFFLED = [*MONTH, "--shuffle", "--no-baselines"]

RUNS: dict[str, list[str]] = {
    "client": ["bench.client", "--actions", "100000"],
    # What the broker's SCRAM login costs: the same runs against a broker
    # that lets anyone in (as the local broker did before it asked for one).
    "client_no_auth": ["bench.client", "--actions", "100000", "--no-auth"],
    "worker_live": LIVE,
    "worker_live_no_auth": [*LIVE, "--no-baselines", "--no-auth"],
    # The same live workload through one worker running two processes
    # (spur worker --processes 2), sharing the broker, the store and the cores.
    "worker_live_two_processes": [*LIVE, "--processes", "2", "--no-baselines"],
    # The same live workload with every action on a partition other than its
    # id's: the worker re-publishes each to its partition and reads it again.
    "worker_live_miskeyed": [*LIVE, "--miskeyed", "--no-baselines"],
    "worker_backfill": [*MONTH, "--no-baselines"],
    # The same month in random order: a backfill, or spools re-sent after an
    # outage. Billed exactly; target: at least 0.7 of the live rate.
    "worker_backfill_shuffled": SHUFFLED,
    # The shuffled month as the best live figure runs: two processes (the
    # ratio compares one deployment with itself).
    "worker_backfill_shuffled_two_processes": [*SHUFFLED, "--processes", "2"],
    "store": ["bench.storage", "--actions", "500000"],
    # The batch step's Python cost per action, step by step, without I/O.
    "steps": ["bench.steps"],
    # What routing costs per action, keyed right and mis-keyed, beside validation.
    "route": ["bench.route"],
    "billing": ["bench.billing_query"],
    "latency": ["bench.latency", "--rate", "5000", "--seconds", "20"],
}


def run(module_and_args: list[str]) -> dict[str, Any]:
    child = subprocess.Popen(
        [sys.executable, "-m", *module_and_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Its own process group: a terminal's Ctrl-C reaches it once, from here.
        start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate()
    except KeyboardInterrupt:
        # Stopped (Ctrl-C, SIGTERM): the benchmark stops what it started, then this.
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=120)
        raise
    if child.returncode != 0:  # a benchmark's own checks failed, or it crashed: say why
        raise RuntimeError(f"{' '.join(module_and_args)} failed:\n{stderr[-5000:]}")
    start = stdout.index("{")
    figures: dict[str, Any] = json.loads(stdout[start:])
    return figures


def main() -> None:
    stop_on_sigterm()
    results = {}
    for name, args in RUNS.items():
        print(f"running {name}...", file=sys.stderr)
        results[name] = run(args)
    one, two = results["worker_live"], results["worker_live_two_processes"]
    shuffled_one = results["worker_backfill_shuffled"]
    shuffled_two = results["worker_backfill_shuffled_two_processes"]
    for compared in (two, shuffled_one, shuffled_two, results["worker_live_miskeyed"]):
        compared["ratio_to_one_process_live"] = round(
            compared["worker_per_second"] / one["worker_per_second"], 3
        )
    summary = {
        "machine": "2 cores, local Kafka 3.9.2 broker, local ClickHouse 26.9 server (chdb engine)",
        "results": results,
        "targets": _targets(results),
    }
    print(json.dumps(summary, indent=2))


def _targets(results: dict[str, Any]) -> dict[str, Any]:
    one, two = results["worker_live"], results["worker_live_two_processes"]
    live = max(one, two, key=lambda run: run["worker_per_second"])
    # The shuffled month run the way the live figure was (one process or two).
    shuffled = results[
        "worker_backfill_shuffled_two_processes" if live is two else "worker_backfill_shuffled"
    ]
    miskeyed = results["worker_live_miskeyed"]
    quix = one.get("quix_peer_per_second")
    client = results["client"]
    open_worker, open_client = results["worker_live_no_auth"], results["client_no_auth"]
    return {
        "live_processes": live["processes_per_worker"],
        "end_to_end_actions_per_second >= 120000": live["worker_per_second"],
        "ratio_to_quix_streams_peer >= 5": round(live["worker_per_second"] / quix, 2)
        if quix
        else one.get("quix_peer"),
        "ratio_to_raw_drain >= 0.2": round(
            live["worker_per_second"] / live["raw_drain_per_second"], 3
        ),
        "shuffled_backfill_ratio_to_live >= 0.7": round(
            shuffled["worker_per_second"] / live["worker_per_second"], 3
        ),
        "shuffled_backfill_processes": shuffled["processes_per_worker"],
        "p99_ms_at_5000_per_second <= 300": results["latency"]["p99_ms"],
        "bytes_per_actions_row <= 20": results["store"]["bytes_per_action_row"],
        "worker_peak_anonymous_rss_mb <= 250 (per process)": live["worker_peak_anonymous_rss_mb"],
        "worker_peak_anonymous_rss_mb, all processes": live[
            "worker_peak_anonymous_rss_mb_all_processes"
        ],
        "client_ratio_to_bare_producer >= 0.9": client.get("ratio_vs_raw_producer"),
        "batch_step_us_per_action <= 5": results["steps"]["us_per_action_by_step"]["total"],
        "two_processes_ratio_to_one": two["ratio_to_one_process_live"],
        "miskeyed_100pct_ratio_to_one_process_live": miskeyed["ratio_to_one_process_live"],
        "route_us_per_correctly_keyed_action <= 1": results["route"][
            "correctly_keyed_us_per_action"
        ],
        "one_month_billing_query_seconds_over_10M_actions": results["billing"][
            "billing_query_seconds_best_of_5"
        ],
        # With SCRAM-SHA-512 login over without: 1.0 = the login costs nothing.
        "worker_live_ratio_login_to_no_login": round(
            one["worker_per_second"] / open_worker["worker_per_second"], 3
        ),
        "client_ratio_login_to_no_login": round(
            client["emit_per_second"] / open_client["emit_per_second"], 3
        ),
    }


if __name__ == "__main__":
    main()
