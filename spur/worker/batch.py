"""The worker's batch wired to the store: each step's interface, its ClickHouse sink.

``batch_steps(store, settings, metrics)`` is what the worker, the tests and
the benchmarks run: :class:`streams.batch.Batch` over the sinks of one store,
with the settings' plain values (time limits, IP policies, lateness, retry
backoff) handed to the steps that need them.
"""

from __future__ import annotations

import datetime as dt
import threading

from schemas.events import Action, Consent, FormSubmission, WebRequest
from schemas.metrics import NO_METRICS, Metrics
from schemas.topics import Topic
from sinks.capacity import StoreCapacity
from sinks.consent import StoreConsent
from sinks.dedup_index import StoreDedupIndex
from sinks.faults import FaultyStore
from sinks.raw_events import StoreRawEvents
from sinks.store import Store
from sinks.tombstones import StoreTombstones
from sinks.windows import StoreWindows
from sinks.writer import Retrying
from spur.settings import Settings
from spur.store_access import open_writer
from streams.batch import ActionsBatch, Batch
from streams.steps.lateness import Lateness
from streams.steps.privacy import private_forms, private_web
from streams.steps.raw_events import RawEvents, consent_kept, consent_raced


def open_worker_store(settings: Settings) -> Store:
    """The store as a worker writes to it (with the tests' fault file, when one is set)."""
    store = open_writer(settings)
    if settings.store_fault_file is not None:
        return FaultyStore(store, settings.store_fault_file)
    return store


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
    retried = Retrying(store, settings.insert_retry_max_seconds, stopping, metrics)
    sink = StoreRawEvents(retried)
    tombstones = StoreTombstones(retried)
    web_policy, forms_policy = settings.web_ip_policy, settings.forms_ip_policy
    actions = ActionsBatch(
        limits=settings.time_limits(Action),
        ip_policy=settings.actions_ip_policy,
        erasure=tombstones,
        index=StoreDedupIndex(retried),
        consent=StoreConsent(retried),
        sink=sink,
        windows=StoreWindows(retried),
        capacity=StoreCapacity(store, stopping),
        lateness=Lateness(dt.timedelta(hours=settings.allowed_lateness_hours), metrics),
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
