"""Every metric spur exposes, declared once (Prometheus conventions: base units,
``_total`` for counters), and the interface code records them through.

Processing steps and sinks receive a :class:`Metrics` and never touch
prometheus-client: the worker and the client pass
:class:`spur.metrics.PrometheusMetrics`, tests a recording fake, and code
that measures nothing :data:`NO_METRICS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


class Metrics(Protocol):
    """Where measurements go. Never raises, never blocks."""

    def inc(self, metric: Metric, amount: float = 1, **labels: str) -> None: ...

    def set(self, metric: Metric, value: float, **labels: str) -> None: ...

    def observe(self, metric: Metric, value: float, **labels: str) -> None: ...

    def declare(self, metrics: tuple[Metric, ...]) -> None:
        """Expose ``metrics`` before their first measurement (a scrape lists them at 0)."""


class _NoMetrics:
    def inc(self, metric: Metric, amount: float = 1, **labels: str) -> None:
        return

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        return

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        return

    def declare(self, metrics: tuple[Metric, ...]) -> None:
        return


NO_METRICS: Metrics = _NoMetrics()

# -- client (app servers) ---------------------------------------------------------

CLIENT_EMITTED = Metric(
    "spur_client_events_emitted_total", "counter", "Events handed to the client by the app",
    ("topic",),
)  # fmt: skip
CLIENT_SENT = Metric(
    "spur_client_events_sent_total", "counter", "Events acknowledged by the broker", ("topic",)
)
CLIENT_SEND_ERRORS = Metric(
    "spur_client_send_errors_total", "counter", "Sends that failed and went to the spool",
    ("topic",),
)  # fmt: skip
CLIENT_SPOOLED = Metric(
    "spur_client_events_spooled_total", "counter", "Events written to the local spool file",
    ("topic",),
)  # fmt: skip
CLIENT_BUFFERED = Metric(
    "spur_client_events_buffered", "gauge", "Events in the client's in-memory buffer, not yet sent"
)
CLIENT_SPOOL_PENDING_BYTES = Metric(
    "spur_client_spool_pending_bytes", "gauge", "Bytes in the spool file not yet re-sent"
)

CLIENT_METRICS = (
    CLIENT_EMITTED, CLIENT_SENT, CLIENT_SEND_ERRORS, CLIENT_SPOOLED, CLIENT_BUFFERED,
    CLIENT_SPOOL_PENDING_BYTES,
)  # fmt: skip

# -- worker -----------------------------------------------------------------------

EVENTS_IN = Metric(
    "spur_events_in_total", "counter", "Messages read from an input topic", ("topic",)
)
REJECTED = Metric(
    "spur_events_rejected_total", "counter", "Messages sent to dead letters, by reason",
    ("topic", "reason"),
)  # fmt: skip
DUPLICATES = Metric("spur_duplicates_total", "counter", "Actions seen again with the same content")
LATE_EVENTS = Metric(
    "spur_late_events_total",
    "counter",
    "Actions more than the allowed lateness behind their partition's newest event time "
    "(folded like any other; a sign of backfills or re-sent spools)",
)
MISKEYED = Metric(
    "spur_miskeyed_messages_total",
    "counter",
    "Input messages re-routed to their canonical partition, from a producer keying by its "
    "own rule or partitioner (read twice, never counted twice)",
    ("topic",),
)
REPUBLISHED = Metric(
    "spur_window_states_republished_total",
    "counter",
    "Window states published again because another worker folded into them meanwhile",
    ("topic",),
)
WINDOW_UPDATES = Metric("spur_window_updates_total", "counter", "Usage window states written")
CAPACITY_UPDATES = Metric(
    "spur_capacity_updates_total", "counter", "Capacity window states written"
)
ERASED_DROPPED = Metric(
    "spur_erased_actions_dropped_total",
    "counter",
    "Actions of erased customers from before their erasure (replays, re-sends, late ones)",
)
DROPPED_PROFILES = Metric(
    "spur_dropped_profiles_total", "counter", "Action profiles dropped for lack of consent"
)
BATCH_SECONDS = Metric(
    "spur_batch_seconds",
    "histogram",
    "Seconds to process one batch, store writes included",
    ("topic",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_STEP_SECONDS = Metric(
    "spur_batch_step_seconds",
    "histogram",
    "Seconds of one step of a batch (validate, dedup, store_raw, fold, ...)",
    ("topic", "step"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENT_TIME_LAG = Metric(
    "spur_event_time_lag_seconds",
    "gauge",
    "Now minus the newest started_at seen, per partition",
    ("partition",),
)
STORE_ERRORS = Metric(
    "spur_store_errors_total", "counter", "Failed store calls (retried)", ("kind",)
)
CONSUMER_LAG = Metric(
    "spur_consumer_lag_messages", "gauge", "Messages not yet committed by the worker group",
    ("topic",),
)  # fmt: skip
RETENTION_OLDEST_AGE = Metric(
    "spur_retention_oldest_age_seconds", "gauge", "Age of the oldest row per table", ("table",)
)
RETENTION_POLICY = Metric(
    "spur_retention_policy_seconds", "gauge", "How long a table may keep a row (its TTL)",
    ("table",),
)  # fmt: skip

WORKER_METRICS = (
    EVENTS_IN, REJECTED, DUPLICATES, MISKEYED, REPUBLISHED, LATE_EVENTS, WINDOW_UPDATES,
    CAPACITY_UPDATES, ERASED_DROPPED, DROPPED_PROFILES, BATCH_SECONDS, BATCH_STEP_SECONDS,
    EVENT_TIME_LAG, STORE_ERRORS, CONSUMER_LAG, RETENTION_OLDEST_AGE, RETENTION_POLICY,
)  # fmt: skip

ALL_METRICS = CLIENT_METRICS + WORKER_METRICS
