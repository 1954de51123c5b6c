"""The worker: its batches, its consumers, its /metrics, and the time rules of the stream."""

from __future__ import annotations

from pydantic import Field

from spur.settings.base import Group

# The worker's /metrics port: the same after every restart, so Prometheus
# finds a restarted worker where it was (deploy/prometheus/prometheus.yml).
DEFAULT_METRICS_PORT = 9464


class WorkerSettings(Group):
    """``SPUR_BATCH_*``, the worker's tuning, its /metrics, lateness and clock skew."""

    # Actions: a batch is what has been fetched, at most batch_size, waiting at
    # most batch_seconds when nothing has (spur/worker/consume.py). 40k, not 20k:
    # 1.23x the rate (fewer parts), 241 MB peak anonymous RSS (bench/README.md).
    batch_size: int = Field(default=40_000, ge=1)
    # Read ahead: while a full batch is stored, the next is fetched and validated
    # (spur/worker/consume.py). Off by default: it keeps two batches' events in
    # memory, +85 MB per process at 40k (278-289 MB peak anonymous RSS against
    # 190-208), for +5-6% with two processes and +10-14% with one (bench/README.md).
    read_ahead: bool = False
    # Web, forms and consent agents: a batch closes at batch_size or after batch_seconds.
    batch_seconds: float = Field(default=0.2, gt=0)
    stream_buffer_maxsize: int = Field(default=131_072, ge=1)
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    # How long the group waits for a silent worker before giving its
    # partitions to another; short, so a crashed worker's partitions move on.
    session_timeout_seconds: float = Field(default=10.0, ge=6, le=300)

    # A second worker on the same host needs a port of its own (and a scrape
    # target); 0: a free port, logged and in <state_dir>/worker.json.
    metrics_port: int = Field(default=DEFAULT_METRICS_PORT, ge=0, le=65535)
    # Loopback unless a scraper on another host needs /metrics (compose).
    api_host: str = Field(default="127.0.0.1", alias="worker_api_host")
    # Retention gauges; consumer lag is measured at each scrape of /metrics.
    observe_interval_seconds: float = Field(default=30.0, gt=0)

    # Stream semantics.
    # Event-time lateness beyond which an action is counted as late (a metric
    # and an alert); every action is folded whatever its lateness.
    allowed_lateness_hours: float = Field(default=48.0, ge=0)
    # How far ahead of its arrival an event time may be (a producer's clock
    # running fast); beyond it: future_timestamp. A day is a broken clock, not skew.
    allowed_clock_skew_seconds: float = Field(default=300.0, ge=0, le=86_400)
