"""Ground truth for billing tests, computed independently of the store."""

from collections.abc import Iterable

from spur_schemas.events import Action


def expected_billing(actions: Iterable[Action]) -> dict[int, tuple[int, int, int]]:
    """customer_id -> (bytes_in, bytes_out, actions), each action_id once."""
    seen: set[object] = set()
    totals: dict[int, tuple[int, int, int]] = {}
    for action in actions:
        if action.action_id in seen:
            continue
        seen.add(action.action_id)
        b_in, b_out, n = totals.get(action.customer_id, (0, 0, 0))
        totals[action.customer_id] = (b_in + action.bytes_in, b_out + action.bytes_out, n + 1)
    return totals


def expected_windows(actions: Iterable[Action]) -> dict[tuple[int, int], tuple[int, ...]]:
    """(customer_id, hour as epoch seconds) -> (bytes_in, bytes_out, actions, errors)."""
    seen: set[object] = set()
    windows: dict[tuple[int, int], tuple[int, ...]] = {}
    for action in actions:
        if action.action_id in seen:
            continue
        seen.add(action.action_id)
        hour = int(action.started_at.timestamp()) // 3600 * 3600
        b_in, b_out, n, errors = windows.get((action.customer_id, hour), (0, 0, 0, 0))
        windows[(action.customer_id, hour)] = (
            b_in + action.bytes_in,
            b_out + action.bytes_out,
            n + 1,
            errors + (action.status == "error"),
        )
    return windows


def _ms(instant: object) -> int:
    import datetime as dt

    assert isinstance(instant, dt.datetime)
    return int(instant.timestamp()) * 1000 + instant.microsecond // 1000


def _quantile_exact(values: list[float], level: float) -> float:
    """ClickHouse's quantileExact: the element at index floor(level * n) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


def expected_capacity(actions: Iterable[Action]) -> dict[tuple[str, int], tuple[float, ...]]:
    """(action, minute as epoch seconds) -> (actions, errors, bytes_in, bytes_out, p50, p95, p99).

    Durations in whole milliseconds of the stored (millisecond) timestamps.
    """
    seen: set[object] = set()
    minutes: dict[tuple[str, int], list[Action]] = {}
    for action in actions:
        if action.action_id in seen:
            continue
        seen.add(action.action_id)
        minute = int(action.started_at.timestamp()) // 60 * 60
        minutes.setdefault((action.action, minute), []).append(action)
    result: dict[tuple[str, int], tuple[float, ...]] = {}
    for key, group in minutes.items():
        durations = [float(_ms(a.ended_at) - _ms(a.started_at)) for a in group]
        result[key] = (
            len(group),
            sum(a.status == "error" for a in group),
            sum(a.bytes_in for a in group),
            sum(a.bytes_out for a in group),
            *(_quantile_exact(durations, level) for level in (0.5, 0.95, 0.99)),
        )
    return result
