"""One or more ``spur worker`` processes draining the actions topic into one store, then checked.

:func:`run_workers` starts a local store and ``workers`` workers in one
consumer group ("bench"), each with a state directory, log and metrics port
of its own (as tests/faults/test_rebalance.py runs them), measures the
group's drain (bench.drain) and the CPU time the workers, the store and the
broker took meanwhile (bench.cpu), optionally records the workers with
py-spy over the same window (bench.pyspy), reads each worker's Prometheus
counters before stopping it, and then checks what the store holds against
what was published, failing loudly when it differs:

- ``actions`` holds one row per published action (rows = distinct ids);
- ``spur billing``'s totals (spur.operations.billing, the same query) count every
  published action, month by month;
- the detours (``spur_miskeyed_messages_total``) are 0 for correctly keyed
  traffic and one per action when every action was mis-keyed.

Every process it starts (store, workers, py-spy) is stopped by its PID, also on failure.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.drain import Drained, tail, wait_drained
from bench.local import local_store, writer
from bench.pyspy import Recorder
from spur.client.kafka import KafkaTarget
from spur.operations.billing import billing
from spur.worker.launch import WorkerProcess, start_worker, worker_env
from spur_schemas.topics import Topic
from spur_sinks.store import ServerStore

GROUP = "bench"
ERROR_MARKERS = ("ERROR", "CRITICAL", "Traceback")


@dataclass(frozen=True)
class Published:
    actions: int
    months: frozenset[str]  # the UTC months (YYYY-MM) the actions started in
    miskeyed: bool  # every action on a partition other than its id's


@dataclass(frozen=True)
class WorkerRun:
    drained: Drained
    events_in: list[float]  # spur_events_in_total of actions, per worker
    miskeyed: float  # spur_miskeyed_messages_total of actions, all workers
    log_errors: list[str]  # the workers' log lines that report an error
    profiles: list[Path]  # py-spy's raw stacks, one file per worker, if asked for
    processes: int = 1  # consuming actions, per worker
    # spur_batch_step_seconds of actions, summed over every worker and batch, per step
    step_seconds: dict[str, float] = field(default_factory=dict)


def run_workers(
    bootstrap: KafkaTarget,
    workdir: Path,
    published: Published,
    workers: int,
    *,
    processes: int = 1,
    broker_pid: int,
    profile: Path | None = None,
) -> WorkerRun:
    """Drain the actions topic through ``workers`` workers (``processes`` each: `spur
    worker --processes`); raise if the result is wrong.

    ``broker_pid``: the broker's process, whose CPU time is read with the
    workers' and the store's. ``profile``: a directory for py-spy's files.
    """
    with local_store(workdir / "store") as running:
        dirs = [workdir / f"worker-{n}" for n in range(1, workers + 1)]
        envs = []
        for directory in dirs:
            directory.mkdir()
            envs.append(worker_env(bootstrap, directory, running.url(), SPUR_CONSUMER_GROUP=GROUP))
        logs = [directory / "worker.log" for directory in dirs]
        started: list[WorkerProcess] = []
        recorder = Recorder(profile)
        try:
            for env, log in zip(envs, logs, strict=True):
                started.append(start_worker(env, log, processes=processes))
            pids = [process.pid for process in started]
            with recorder:
                drained = wait_drained(
                    started, bootstrap, GROUP, actions=published.actions, logs=logs,
                    messages=published.actions * (2 if published.miskeyed else 1),
                    cpu_of={**worker_names(pids), "store": running.pid, "broker": broker_pid},
                    at_first_progress=lambda: recorder.start(pids),
                )  # fmt: skip
            counters = [read_counters(directory / "state") for directory in dirs]
        finally:
            for process in started:
                process.stop()
        run = WorkerRun(
            processes=processes,
            drained=drained,
            events_in=[
                c.get(f'spur_events_in_total{{topic="{Topic.ACTIONS}"}}', 0.0) for c in counters
            ],
            miskeyed=sum(
                c.get(f'spur_miskeyed_messages_total{{topic="{Topic.ACTIONS}"}}', 0.0)
                for c in counters
            ),
            log_errors=[line for log in logs for line in error_lines(log)],
            profiles=recorder.files,
            step_seconds=step_seconds(counters),
        )
        store = writer(running, "spur")
        try:
            check(run, published, store, logs)
        finally:
            store.close()
    return run


def step_seconds(counters: list[dict[str, float]]) -> dict[str, float]:
    """Seconds each step of the actions batch took, all workers' batches summed."""
    found: dict[str, float] = {}
    for series in counters:
        for name, value in series.items():
            if name.startswith("spur_batch_step_seconds_sum{") and Topic.ACTIONS in name:
                step = name.split('step="', 1)[1].split('"', 1)[0]
                found[step] = found.get(step, 0.0) + value
    return found


def worker_names(pids: list[int]) -> dict[str, int]:
    """ "worker" for one, "worker-1", "worker-2", ... for several, as their directories."""
    if len(pids) == 1:
        return {"worker": pids[0]}
    return {f"worker-{n}": pid for n, pid in enumerate(pids, start=1)}


def read_counters(state_dir: Path) -> dict[str, float]:
    """A running worker's metrics (its /metrics, address in worker.json), by series."""
    url = json.loads((state_dir / "worker.json").read_text())["metrics"]
    with urllib.request.urlopen(url, timeout=30) as response:  # loopback
        text = response.read().decode()
    series = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            series[name] = float(value)
    return series


def error_lines(log: Path) -> list[str]:
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if any(marker in line for marker in ERROR_MARKERS)
    ]


def check(run: WorkerRun, published: Published, store: ServerStore, logs: list[Path]) -> None:
    """Raise RuntimeError unless the store and the counters match what was published."""
    problems = []
    (stored,) = store.query(
        f"SELECT count() AS rows, uniqExact(action_id) AS ids FROM {store.database}.actions"
    )
    if stored != {"rows": published.actions, "ids": published.actions}:
        problems.append(f"actions table holds {stored}, published {published.actions}")
    billed = sum(usage.actions for month in published.months for usage in billing(store, month))
    if billed != published.actions:
        problems.append(f"spur billing counts {billed} actions, published {published.actions}")
    detours = published.actions if published.miskeyed else 0
    if run.miskeyed != detours:
        problems.append(f"spur_miskeyed_messages_total is {run.miskeyed:.0f}, expected {detours}")
    if problems:
        logs_tail = "\n".join(f"{log}:\n{tail(log)}" for log in logs)
        raise RuntimeError("wrong result: " + "; ".join(problems) + "\n" + logs_tail)
