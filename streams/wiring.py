"""The one wiring of a worker's batch: every path's steps over the interfaces given.

The worker (spur.worker.batch.batch_steps, over ClickHouse sinks), the
benchmarks and the tests' in-memory fakes (tests/fakes.py) all build their
:class:`spur_streams.batch.Batch` here, by keyword, so the steps they run
are wired one way.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.metrics import Metrics
from spur_schemas.topics import Topic
from spur_schemas.validate import TimeLimits
from spur_streams.batch import ActionsBatch, Batch
from spur_streams.privacy import IpPolicy
from spur_streams.steps.dedup import DedupIndex
from spur_streams.steps.erasure import ErasureLog
from spur_streams.steps.lateness import Lateness
from spur_streams.steps.privacy import ConsentSource, private_forms, private_web
from spur_streams.steps.raw_events import RawEvents, consent_kept, consent_raced
from spur_streams.steps.store_rows import RawEventsSink
from spur_streams.steps.windows import CapacityStore, WindowStore


@dataclass(frozen=True)
class Rules:
    """The plain values the steps take from the settings."""

    limits: dict[type, TimeLimits]  # per event type: Action, WebRequest, FormSubmission, Consent
    actions_ip_policy: IpPolicy
    web_ip_policy: IpPolicy
    forms_ip_policy: IpPolicy
    allowed_lateness: dt.timedelta


def wire_batch(
    *,
    rules: Rules,
    erasure: ErasureLog,
    index: DedupIndex,
    consent: ConsentSource,
    sink: RawEventsSink,
    windows: WindowStore,
    capacity: CapacityStore,
    metrics: Metrics,
    partitions: int | None,
    stopping: threading.Event,
) -> Batch:
    """``partitions``: the actions topic's, to route actions to their id's partition (the
    worker); None feeds every action to this batch as it is (tests, one-batch benchmarks).
    ``stopping``: set when the worker stops (the sinks' retries give up)."""
    web_policy, forms_policy = rules.web_ip_policy, rules.forms_ip_policy
    actions = ActionsBatch(
        limits=rules.limits[Action],
        ip_policy=rules.actions_ip_policy,
        erasure=erasure,
        index=index,
        consent=consent,
        sink=sink,
        windows=windows,
        capacity=capacity,
        lateness=Lateness(rules.allowed_lateness, metrics),
        metrics=metrics,
        partitions=partitions,
    )
    return Batch(
        actions=actions,
        web=RawEvents(
            Topic.WEB, WebRequest, rules.limits[WebRequest],
            lambda items, _: private_web(items, web_policy), sink.store_web, sink, metrics,
        ),
        forms=RawEvents(
            Topic.FORMS, FormSubmission, rules.limits[FormSubmission],
            lambda items, _: private_forms(items, forms_policy), sink.store_forms, sink, metrics,
        ),
        consent=RawEvents(
            Topic.CONSENT, Consent, rules.limits[Consent], consent_kept, sink.store_consent,
            sink, metrics, erasure=erasure, skip_empty=True, after_write=consent_raced(erasure),
        ),
        stopping=stopping,
    )  # fmt: skip
