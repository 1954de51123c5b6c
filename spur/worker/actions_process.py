"""One more member of the actions consumer group: the batch consumer alone, no Faust.

``spur worker --processes N`` runs N-1 of these next to the main process
(spur.worker.processes starts them). Each reads actions in batches exactly as
the main process does (spur.worker.consume, over spur.worker.batch's steps,
its own store connection and producer), so the group's rules hold unchanged:
an id is decided by the one owner of its canonical partition, offsets are
committed after everything of their batch. What the process measures goes
to the main process's /metrics through ``metrics`` (spur.worker.processes).

Stops on SIGTERM or SIGINT (the batch in flight finishes or stays
uncommitted, as in the main process), and by itself when its parent is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from spur.broker import kafka_target
from spur.client.publisher import new_producer
from spur.settings import Settings
from spur.store_access import StoreOpener
from spur.worker.batch import batch_steps
from spur.worker.consume import actions_consumer, batch_handlers, consume_actions
from spur.worker.publishers import ProducerPublisher
from spur.worker.repeated_logs import limit_repeated_logs
from spur.worker.tuning import quiet_driver_logs, tune_interpreter
from spur_schemas.metrics import Metrics

log = logging.getLogger("spur.worker")

PARENT_CHECK_SECONDS = 1.0


def run_actions_process(
    settings: Settings, metrics: Metrics, parent: int, open_store: StoreOpener
) -> None:
    """Consume actions until signalled or until process ``parent`` is gone, into the
    store ``open_store`` opens (the main process's, spur.worker.process.run_worker)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    tune_interpreter()
    quiet_driver_logs()
    limit_repeated_logs()
    asyncio.run(_serve(settings, metrics, parent, open_store))


async def _serve(
    settings: Settings, metrics: Metrics, parent: int, open_store: StoreOpener
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bootstrap = kafka_target(settings)
    store = open_store(settings)
    batch = batch_steps(store, settings, metrics, partitions=settings.broker.topic_partitions)
    producer = new_producer(bootstrap)
    prepare, process, complete = batch_handlers(batch, ProducerPublisher(producer))

    await producer.start()
    consumer = actions_consumer(settings, bootstrap)
    consuming = asyncio.create_task(
        consume_actions(
            consumer,
            settings,
            process,
            complete,
            assign=batch.assign,
            revoke=batch.revoke,
            prepare=prepare,
        )
    )
    watching = asyncio.create_task(_until_orphaned(parent, stop))
    try:
        await asyncio.wait(
            [consuming, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if consuming.done():
            consuming.result()  # a failure of the consumer: raised, the process exits non-zero
    finally:
        batch.stopping.set()  # store retries give up; the batch stays uncommitted
        for task in (consuming, watching):
            task.cancel()
        await asyncio.gather(consuming, watching, return_exceptions=True)
        with contextlib.suppress(Exception):
            await producer.stop()
        store.close()


async def _until_orphaned(parent: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once the parent process is gone (killed -9, it could not stop us)."""
    while True:  # no event tells a process its parent died: polled
        await asyncio.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            break
    log.warning("actions process %d: the worker's main process is gone; stopping", os.getpid())
    stop.set()
