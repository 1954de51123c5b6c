"""Observations for the alert rules: consumer lag (at each scrape) and retention ages.

Consumer lag is measured when Prometheus scrapes the worker (:class:`LagAtScrape`),
so ``spur_consumer_lag_messages`` is what `spur status` says at that moment;
measured every ``observe_interval_seconds`` it lagged it by up to that long
(30 s). Retention ages change by the day: one query per table every
``observe_interval_seconds`` (:func:`observe`).

Blocking: :class:`LagAtScrape` blocks the scrape for one admin round trip to
the broker (at most ``timeout_seconds``); failures of either are logged,
never raised, and measured again next time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from aiokafka.errors import KafkaError

from spur.broker import consumer_lag
from spur.client.kafka import KafkaTarget
from spur.metrics import PROMETHEUS
from spur.operations.retention import retention_report
from spur.settings import Settings
from spur_schemas.metrics import CONSUMER_LAG, RETENTION_OLDEST_AGE, RETENTION_POLICY
from spur_schemas.topics import INPUT_TOPICS
from spur_sinks.store import Store, StoreError

log = logging.getLogger(__name__)


class LagAtScrape:
    """Set the consumer-lag gauge now; called by the metrics endpoint before each scrape.

    Concurrent scrapes wait for one measurement; one younger than
    ``reuse_seconds`` is reused, so a burst of requests is one broker round trip.
    """

    def __init__(
        self,
        bootstrap: KafkaTarget,
        settings: Settings,
        *,
        timeout_seconds: float = 5.0,  # within Prometheus' default scrape timeout (10 s)
        reuse_seconds: float = 1.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._group = settings.broker.consumer_group
        self._timeout = timeout_seconds
        self._reuse = reuse_seconds
        self._lock = threading.Lock()
        self._measured_at = -float("inf")

    def __call__(self) -> None:
        with self._lock:
            if time.monotonic() - self._measured_at < self._reuse:
                return
            try:
                lag = asyncio.run(
                    asyncio.wait_for(
                        consumer_lag(self._bootstrap, self._group, list(INPUT_TOPICS)),
                        self._timeout,
                    )
                )
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("could not read consumer lag: %r", exc)
            else:
                for topic, behind in lag.items():
                    PROMETHEUS.set(CONSUMER_LAG, behind, topic=topic)
            self._measured_at = time.monotonic()


async def observe(store: Store, settings: Settings) -> None:
    """Set the retention gauges: each table's policy and the age of its oldest row."""
    try:
        report = await asyncio.to_thread(retention_report, store, settings)
    except StoreError as exc:
        log.warning("could not read retention ages: %s", exc)
        return
    for row in report:
        if row["policy_days"] is not None:
            PROMETHEUS.set(RETENTION_POLICY, row["policy_days"] * 86400, table=row["table"])
        if row["oldest_age_days"] is not None:
            PROMETHEUS.set(RETENTION_OLDEST_AGE, row["oldest_age_days"] * 86400, table=row["table"])
