"""The worker's batch wired to the store: each step's interface, its ClickHouse sink.

``batch_steps(store, settings, metrics)`` is what the worker, the tests and
the benchmarks run: :func:`spur_streams.wiring.wire_batch` over the sinks of
one store, with the settings' plain values (time limits, IP policies,
lateness, retry backoff) handed to the steps that need them.
"""

from __future__ import annotations

import datetime as dt
import threading

from spur.settings import Settings
from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.metrics import NO_METRICS, Metrics
from spur_sinks.capacity import StoreCapacity
from spur_sinks.consent import StoreConsent
from spur_sinks.dedup_index import StoreDedupIndex
from spur_sinks.raw_events import StoreRawEvents
from spur_sinks.store import Store
from spur_sinks.tombstones import StoreTombstones
from spur_sinks.windows import StoreWindows
from spur_sinks.writer import Retrying
from spur_streams.batch import Batch
from spur_streams.wiring import Rules, wire_batch

EVENT_KINDS = (Action, WebRequest, FormSubmission, Consent)


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
    return wire_batch(
        rules=Rules(
            limits={kind: settings.time_limits(kind) for kind in EVENT_KINDS},
            actions_ip_policy=settings.privacy.actions_ip_policy,
            web_ip_policy=settings.privacy.web_ip_policy,
            forms_ip_policy=settings.privacy.forms_ip_policy,
            allowed_lateness=dt.timedelta(hours=settings.worker.allowed_lateness_hours),
        ),
        # Events dated up to the allowed clock skew after an erasure may be from before it.
        erasure=StoreTombstones(
            retried, dt.timedelta(seconds=settings.worker.allowed_clock_skew_seconds)
        ),
        index=StoreDedupIndex(retried),
        consent=StoreConsent(retried),
        sink=StoreRawEvents(retried),
        windows=StoreWindows(retried),
        capacity=StoreCapacity(store, stopping),
        metrics=metrics,
        partitions=partitions,
        stopping=stopping,
    )
