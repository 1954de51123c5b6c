"""Every Prometheus metric spur exposes, declared in one place (base units)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CLIENT_EMITTED = Counter(
    "spur_client_events_emitted_total", "Events handed to the client by the app", ["topic"]
)
CLIENT_SENT = Counter(
    "spur_client_events_sent_total", "Events acknowledged by the broker", ["topic"]
)
CLIENT_SEND_ERRORS = Counter(
    "spur_client_send_errors_total", "Sends that failed and went to the spool", ["topic"]
)
CLIENT_SPOOLED = Counter(
    "spur_client_events_spooled_total", "Events written to the local spool file", ["topic"]
)
CLIENT_BUFFERED = Gauge(
    "spur_client_events_buffered", "Events in the client's in-memory buffer, not yet sent"
)
CLIENT_SPOOL_PENDING_BYTES = Gauge(
    "spur_client_spool_pending_bytes", "Bytes in the spool file not yet re-sent"
)

# -- worker ---------------------------------------------------------------------

EVENTS_IN = Counter("spur_events_in_total", "Messages read from an input topic", ["topic"])
REJECTED = Counter(
    "spur_events_rejected_total", "Messages sent to dead letters, by reason", ["topic", "reason"]
)
DUPLICATES = Counter("spur_duplicates_total", "Actions seen again with the same content")
LATE_EVENTS = Counter(
    "spur_late_events_total",
    "Actions more than the allowed lateness behind their partition's newest event time "
    "(folded like any other; a sign of backfills or re-sent spools)",
)
WINDOW_UPDATES = Counter("spur_window_updates_total", "Usage window states written")
CAPACITY_UPDATES = Counter("spur_capacity_updates_total", "Capacity window states written")
ERASED_DROPPED = Counter(
    "spur_erased_actions_dropped_total",
    "Actions of erased customers from before their erasure (replays, re-sends, late ones)",
)
DROPPED_PROFILES = Counter(
    "spur_dropped_profiles_total", "Action profiles dropped for lack of consent"
)
BATCH_SECONDS = Histogram(
    "spur_batch_seconds",
    "Seconds to process one batch, store writes included",
    ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENT_TIME_LAG = Gauge(
    "spur_event_time_lag_seconds",
    "Now minus the newest started_at seen, per partition",
    ["partition"],
)
STORE_ERRORS = Counter("spur_store_errors_total", "Failed store calls (retried)", ["kind"])
CONSUMER_LAG = Gauge(
    "spur_consumer_lag_messages", "Messages not yet committed by the worker group", ["topic"]
)
RETENTION_OLDEST_AGE = Gauge(
    "spur_retention_oldest_age_seconds", "Age of the oldest row per table", ["table"]
)
RETENTION_POLICY = Gauge(
    "spur_retention_policy_seconds", "How long a table may keep a row (its TTL)", ["table"]
)
