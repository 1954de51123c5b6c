"""``spur worker``: prepare topics and store, then run the Faust worker.

Blocks until the worker stops (SIGTERM/SIGINT are handled by Faust, which
stops the agents and commits acknowledged offsets). Raises
:class:`spur.broker.NoBrokerError` or :class:`sinks.store.StoreError` before
starting when the broker or the store is unusable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os

from prometheus_client import start_http_server

from sinks.migrate import apply_migrations
from sinks.store import open_store
from spur.broker import kafka_bootstrap
from spur.devbroker import free_port
from spur.settings import Settings
from spur.topics import ensure_topics, topic_specs

log = logging.getLogger("spur.worker")


def run_worker(settings: Settings) -> None:
    from faust.worker import Worker

    from streams.app import create_app

    bootstrap = kafka_bootstrap(settings)
    for change in asyncio.run(ensure_topics(bootstrap, topic_specs(settings))):
        if change.action != "unchanged":
            log.warning("topic %s %s", change.topic, change.action)
    store = open_store(settings.store, settings.insert_timeout_seconds)
    for migration in apply_migrations(store, settings):
        log.warning("applied migration %04d %s", migration.version, migration.name)
    app = create_app(settings, bootstrap, store)
    port = settings.metrics_port or free_port()
    start_http_server(port, addr="127.0.0.1")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    (settings.state_dir / "worker.json").write_text(
        json.dumps({"pid": os.getpid(), "metrics": f"http://127.0.0.1:{port}/metrics"})
    )
    log.warning("worker metrics on http://127.0.0.1:%d/metrics", port)
    worker = Worker(app, loglevel="WARNING", quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG, which makes every
    # library build a log record per message sent: a third of the CPU.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    finally:
        store.close()
