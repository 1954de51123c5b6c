"""Ground truth for billing tests, computed independently of the store."""

from collections.abc import Iterable

from schemas.events import Action


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
