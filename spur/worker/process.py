"""``spur worker``: prepare topics and store, then run the Faust worker.

Blocks until the worker stops (SIGTERM/SIGINT are handled by Faust, which
stops the agents and commits acknowledged offsets). Raises
:class:`spur.broker.NoBrokerError` or :class:`spur_sinks.store.StoreError` before
starting when the broker or the store is unusable.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

from spur.broker import kafka_target
from spur.client.private import private_dir
from spur.metrics import PROMETHEUS
from spur.settings import Settings
from spur.store_access import StoreOpener, open_writer
from spur.topics import ensure_topics, topic_specs, wait_for_coordinators
from spur.worker.api import WorkerAPI
from spur.worker.processes import ActionsProcesses
from spur.worker.repeated_logs import limit_repeated_logs
from spur.worker.tuning import quiet_driver_logs, tune_interpreter
from spur_schemas.topics import INPUT_TOPICS, consumer_group_of
from spur_sinks.migrate import apply_migrations

log = logging.getLogger("spur.worker")


def run_worker(
    settings: Settings, processes: int = 1, open_store: StoreOpener = open_writer
) -> None:
    """``processes``: consumers of actions, this one included (the others:
    spur.worker.processes); web, forms and consent are read here only.
    ``open_store``: how each of them opens the store it writes to (the
    migrations, applied first, always use open_writer); picklable, since
    the other processes are spawned with it."""
    from faust.worker import Worker

    from spur.worker.app import create_app
    from spur.worker.observe import LagAtScrape

    # First, so that a second worker on this host stops before touching anything.
    api = WorkerAPI(settings.worker.metrics_port, settings.worker.api_host)
    private_dir(settings.local.state_dir)  # Faust tables, worker.json
    bootstrap = kafka_target(settings)
    for change in asyncio.run(ensure_topics(bootstrap, topic_specs(settings))):
        if change.action != "unchanged":
            log.warning("topic %s %s", change.topic, change.action)
    # On a broker's first start: no consumer joins before its coordinator exists.
    groups = sorted({consumer_group_of(t, settings.broker.consumer_group) for t in INPUT_TOPICS})
    asyncio.run(wait_for_coordinators(bootstrap, groups))
    migrate(settings)
    store = open_store(settings)
    app = create_app(settings, bootstrap, store)
    PROMETHEUS.declare()
    api.measure_on_scrape(LagAtScrape(bootstrap, settings))
    api.start(settings.local.state_dir / "worker.json")
    log.warning("worker metrics at %s/metrics", api.url)
    tune_interpreter()
    quiet_driver_logs()
    limit_repeated_logs()
    worker = Worker(app, loglevel="WARNING", quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG, which makes every
    # library build a log record per message sent: a third of the CPU.
    worker.spinner = None
    extra = ActionsProcesses(settings, processes - 1, PROMETHEUS, open_store)
    try:
        extra.start()
        worker.execute_from_commandline()
    finally:
        extra.stop()
        api.stop()
        (settings.local.state_dir / "worker.json").unlink(missing_ok=True)
        store.close()


def migrate(settings: Settings) -> None:
    """Apply the store's migrations once, before any consumer starts.

    SIGTERM meanwhile ends the process through its ``finally`` blocks, so a
    worker stopped while it migrates lets the migration lock go (killed, it
    leaves it to be taken over after STALE_SECONDS: spur_sinks.migration_lock).
    """
    store = open_writer(settings)
    main = threading.current_thread() is threading.main_thread()  # signals are the main's
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main else None
    try:
        applied = apply_migrations(store, settings.retention.tables, cluster=settings.store.cluster)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        store.close()
    for migration in applied:
        log.warning("applied migration %04d %s", migration.version, migration.name)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
