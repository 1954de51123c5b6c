"""Every Prometheus metric spur exposes, declared in one place (base units)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
