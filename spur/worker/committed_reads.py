"""Faust's consumers reading only committed messages, as the actions consumer does.

Faust reads committed messages only when it runs its own exactly-once
processing; otherwise aiokafka's default, read uncommitted, applies, and a
producer's aborted transaction on the consent, web or forms topic was
stored (found from outside: an aborted consent grant kept a profile).
:class:`CommittedTransport` is Faust's aiokafka transport with every consumer
it makes set to read committed. aiokafka reads the setting when the consumer
starts (its fetcher), so it is set on the consumer Faust built, before that.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_kafka


class _CommittedReadsThread(faust_kafka.AIOKafkaConsumerThread):
    # How long the worker waits for this thread to stop. With the broker away its
    # consumer waits to leave the group: mode's default, 60 s, made a worker asked
    # to stop (SIGTERM) take ~63 s, past an orchestrator's usual grace period (30 s).
    # A healthy broker lets it stop in well under a second; an agent's offsets not
    # committed by then are read again (tests/faults/test_broker_restart.py).
    shutdown_timeout = 10.0

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka has no setter for it; its fetcher reads it when the consumer starts.
        consumer._isolation_level = "read_committed"
        return consumer


class _CommittedReadsConsumer(faust_kafka.Consumer):
    def _new_consumer_thread(self) -> _CommittedReadsThread:
        return _CommittedReadsThread(self, loop=self.loop, beacon=self.beacon)


class CommittedTransport(faust_kafka.Transport):
    """Faust's aiokafka transport whose consumers read committed messages only."""

    Consumer = _CommittedReadsConsumer
