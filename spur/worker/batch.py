"""The worker's batch wired to the store: each step's interface, its ClickHouse sink.

``batch_steps(store, settings, metrics)`` is what the worker, the tests and
the benchmarks run: :class:`spur_streams.batch.Batch` over the sinks of one store,
with the settings' plain values (time limits, IP policies, lateness, retry
backoff) handed to the steps that need them.
"""

from __future__ import annotations

import datetime as dt
import threading

from spur.settings import Settings
from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.metrics import NO_METRICS, Metrics
from spur_schemas.topics import Topic
from spur_sinks.capacity import StoreCapacity
from spur_sinks.consent import StoreConsent
from spur_sinks.dedup_index import StoreDedupIndex
from spur_sinks.raw_events import StoreRawEvents
from spur_sinks.store import Store
from spur_sinks.tombstones import StoreTombstones
from spur_sinks.windows import StoreWindows
from spur_sinks.writer import Retrying
from spur_streams.batch import ActionsBatch, Batch
from spur_streams.steps.lateness import Lateness
from spur_streams.steps.privacy import private_forms, private_web
from spur_streams.steps.raw_events import RawEvents, consent_kept, consent_raced


def batch_steps(
    store: Store,
    settings: Settings,
    metrics: Metrics = NO_METRICS,
    *,
    partitions: int | None = None,
) -> Batch:
    """``partitions``: the actions topic's, to route actions to their id's partition (the
    worker); None feeds every action to this batch as it is (tests, benchmarks of one batch)."""
    stopping = threading.Event()
    retried = Retrying(store, settings.store.insert_retry_max_seconds, stopping, metrics)
    sink = StoreRawEvents(retried)
    tombstones = StoreTombstones(retried)
    web_policy, forms_policy = settings.privacy.web_ip_policy, settings.privacy.forms_ip_policy
    actions = ActionsBatch(
        limits=settings.time_limits(Action),
        ip_policy=settings.privacy.actions_ip_policy,
        erasure=tombstones,
        index=StoreDedupIndex(retried),
        consent=StoreConsent(retried),
        sink=sink,
        windows=StoreWindows(retried),
        capacity=StoreCapacity(store, stopping),
        lateness=Lateness(dt.timedelta(hours=settings.worker.allowed_lateness_hours), metrics),
        metrics=metrics,
        partitions=partitions,
    )
    return Batch(
        actions=actions,
        web=RawEvents(
            Topic.WEB, WebRequest, settings.time_limits(WebRequest),
            lambda items, _: private_web(items, web_policy), sink.store_web, sink, metrics,
        ),
        forms=RawEvents(
            Topic.FORMS, FormSubmission, settings.time_limits(FormSubmission),
            lambda items, _: private_forms(items, forms_policy), sink.store_forms, sink, metrics,
        ),
        consent=RawEvents(
            Topic.CONSENT, Consent, settings.time_limits(Consent), consent_kept,
            sink.store_consent, sink, metrics, erasure=tombstones, skip_empty=True,
            after_write=consent_raced(tombstones),
        ),
        stopping=stopping,
    )  # fmt: skip
