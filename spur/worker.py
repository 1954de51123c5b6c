"""``spur worker``: prepare topics and store, then run the Faust worker.

Blocks until the worker stops (SIGTERM/SIGINT are handled by Faust, which
stops the agents and commits acknowledged offsets). Raises
:class:`spur.broker.NoBrokerError` or :class:`sinks.store.StoreError` before
starting when the broker or the store is unusable.
"""

from __future__ import annotations

import asyncio
import logging

from sinks.migrate import apply_migrations
from sinks.store import open_store
from spur.broker import kafka_bootstrap
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
    try:
        Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
    finally:
        store.close()
