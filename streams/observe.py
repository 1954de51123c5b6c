"""Periodic observations for the alert rules: consumer lag and retention ages.

Blocking: one admin round trip to the broker and one query per table, every
``observe_interval_seconds``; failures are logged and retried next time.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import KafkaError

from sinks.store import Store, StoreError
from spur import metrics
from spur.broker import consumer_lag
from spur.kafka_access import KafkaTarget
from spur.ops import retention_report
from spur.settings import Settings
from spur.topics import INPUT_TOPICS

log = logging.getLogger(__name__)


async def observe(bootstrap: KafkaTarget, settings: Settings, store: Store) -> None:
    try:
        lag = await consumer_lag(bootstrap, settings.consumer_group, list(INPUT_TOPICS))
    except KafkaError as exc:
        log.warning("could not read consumer lag: %s", exc)
    else:
        for topic, behind in lag.items():
            metrics.CONSUMER_LAG.labels(topic).set(behind)
    try:
        report = await asyncio.to_thread(retention_report, store, settings)
    except StoreError as exc:
        log.warning("could not read retention ages: %s", exc)
        return
    for row in report:
        if row["policy_days"] is not None:
            metrics.RETENTION_POLICY.labels(row["table"]).set(row["policy_days"] * 86400)
        if row["oldest_age_days"] is not None:
            metrics.RETENTION_OLDEST_AGE.labels(row["table"]).set(row["oldest_age_days"] * 86400)
