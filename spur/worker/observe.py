"""Periodic observations for the alert rules: consumer lag and retention ages.

Blocking: one admin round trip to the broker and one query per table, every
``observe_interval_seconds``; failures are logged and retried next time.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import KafkaError

from schemas.metrics import CONSUMER_LAG, RETENTION_OLDEST_AGE, RETENTION_POLICY
from schemas.topics import INPUT_TOPICS
from sinks.store import Store, StoreError
from spur.broker import consumer_lag
from spur.client.kafka import KafkaTarget
from spur.metrics import PROMETHEUS
from spur.read.retention import retention_report
from spur.settings import Settings

log = logging.getLogger(__name__)


async def observe(bootstrap: KafkaTarget, settings: Settings, store: Store) -> None:
    try:
        lag = await consumer_lag(bootstrap, settings.consumer_group, list(INPUT_TOPICS))
    except KafkaError as exc:
        log.warning("could not read consumer lag: %s", exc)
    else:
        for topic, behind in lag.items():
            PROMETHEUS.set(CONSUMER_LAG, behind, topic=topic)
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
