"""spur's metrics in prometheus-client: the declarations of :mod:`spur_schemas.metrics`
registered once per process, behind the :class:`spur_schemas.metrics.Metrics` interface."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from spur_schemas.metrics import ALL_METRICS, Metric


class PrometheusMetrics:
    """Records into prometheus-client collectors, created from the declarations."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self._collectors: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _collector(self, metric: Metric) -> Any:
        collector = self._collectors.get(metric.name)
        if collector is None:
            with self._lock:
                collector = self._collectors.get(metric.name) or self._create(metric)
                self._collectors[metric.name] = collector
        return collector

    def _create(self, metric: Metric) -> Any:
        common: dict[str, Any] = {"labelnames": metric.labels, "registry": self.registry}
        if metric.kind == "counter":
            return Counter(metric.name, metric.help, **common)
        if metric.kind == "gauge":
            return Gauge(metric.name, metric.help, **common)
        return Histogram(metric.name, metric.help, buckets=metric.buckets, **common)

    def _child(self, metric: Metric, labels: dict[str, str]) -> Any:
        collector = self._collector(metric)
        return collector.labels(**labels) if metric.labels else collector

    def inc(self, metric: Metric, amount: float = 1, **labels: str) -> None:
        self._child(metric, labels).inc(amount)

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        self._child(metric, labels).set(value)

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        self._child(metric, labels).observe(value)

    def declare(self, metrics: tuple[Metric, ...] = ALL_METRICS) -> None:
        """Create the collectors of ``metrics``, so /metrics lists them before their first event."""
        for metric in metrics:
            self._collector(metric)


# One per process: prometheus-client's default registry refuses a name twice.
PROMETHEUS = PrometheusMetrics()
