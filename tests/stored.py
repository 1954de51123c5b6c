"""The pipeline's published window states as stored, in the oracle's shapes (tests/oracle.py)."""

from __future__ import annotations

from spur_sinks.store import Store


def stored_usage(store: Store) -> dict[tuple[int, int], tuple[int, ...]]:
    rows = store.query(
        f"SELECT customer_id, toUnixTimestamp(hour) AS hour, bytes_in, bytes_out, actions, "
        f"error_actions FROM {store.database}.usage_hourly FINAL"
    )
    return {
        (int(r["customer_id"]), int(r["hour"])): (
            int(r["bytes_in"]), int(r["bytes_out"]), int(r["actions"]), int(r["error_actions"]),
        )
        for r in rows
    }  # fmt: skip


def stored_capacity(store: Store) -> dict[tuple[str, int], tuple[float, ...]]:
    rows = store.query(
        f"SELECT action, toUnixTimestamp(minute) AS minute, actions, error_actions, bytes_in, "
        f"bytes_out, duration_p50_ms, duration_p95_ms, duration_p99_ms "
        f"FROM {store.database}.capacity_minutely FINAL"
    )
    return {
        (r["action"], int(r["minute"])): (
            int(r["actions"]), int(r["error_actions"]), int(r["bytes_in"]), int(r["bytes_out"]),
            float(r["duration_p50_ms"]), float(r["duration_p95_ms"]), float(r["duration_p99_ms"]),
        )
        for r in rows
    }  # fmt: skip
