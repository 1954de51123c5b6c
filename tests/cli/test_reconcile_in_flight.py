"""`spur reconcile` while workers write: a batch between its raw rows and its
rewrite is not a difference; a real one still is, whatever is in flight.

The batch is held where a worker would be between its fold and its rewrite
of the hours and minutes (``record`` done, ``finish`` not yet), and let go
right after reconcile's first reading: deterministic, where a timer would
race the first reading on a busy machine.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from spur.operations import settled
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.validate import encode
from spur_sinks.capacity import refresh_capacity
from spur_streams.batch import Message
from tests.cli.conftest import NOW, Cli, action

AT = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def _hold_a_batch(cli: Cli, first: int, *, usage_rewritten: bool = False) -> Callable[[], None]:
    """A batch of four actions recorded (raw rows, fold) but not rewritten (with
    ``usage_rewritten``: its hours rewritten, its minutes not refreshed yet, the
    worker's next step); the returned call does the rest, as the worker does."""
    batch = batch_steps(cli.store, Settings())
    actions = [action(first + n, AT + dt.timedelta(seconds=n)) for n in range(4)]
    messages = [Message("spur.actions.v1", 0, first + n, encode(a)) for n, a in enumerate(actions)]
    recorded = batch.record_actions(messages, NOW)
    minutes = batch.actions.finish(recorded).capacity if usage_rewritten else None

    def finish() -> None:
        refresh_capacity(
            cli.store, minutes if minutes is not None else batch.actions.finish(recorded).capacity
        )

    return finish


def _after_first_reading(
    monkeypatch: pytest.MonkeyPatch, name: str, then: Callable[[], None]
) -> list[int]:
    """Run ``then`` once, right after the first call of settled's ``name``."""
    real = getattr(settled, name)
    calls: list[int] = []

    def reading(*args: Any) -> Any:
        found = real(*args)
        calls.append(len(found))
        if len(calls) == 1:
            then()
        return found

    monkeypatch.setattr(settled, name, reading)
    return calls


@pytest.mark.parametrize("read", ["reconcile", "reconcile_capacity"])
def test_a_batch_in_flight_is_not_a_difference(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    cli.feed([action(n, AT - dt.timedelta(minutes=n)) for n in range(6)])
    held = _hold_a_batch(cli, 100, usage_rewritten=read == "reconcile_capacity")
    calls = _after_first_reading(monkeypatch, read, held)
    result = cli("reconcile", "--month", "2026-11", "--format", "json")
    assert calls[0] > 0  # the first reading saw the batch in flight
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["differences"], report["capacity_differences"]) == ([], [])


def test_lost_folds_are_reported_while_a_batch_is_in_flight(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.feed([action(n, AT - dt.timedelta(minutes=n)) for n in range(6)])
    # A store that lost the six actions' folds: their sums and states gone.
    for table in ("usage_sums", "usage_hourly", "capacity_states", "capacity_minutely"):
        cli.store.execute(
            f"DELETE FROM {cli.store.database}.{table} WHERE 1 "
            "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
        )
    _after_first_reading(monkeypatch, "reconcile", _hold_a_batch(cli, 200))
    result = cli("reconcile", "--month", "2026-11", "--format", "json")
    assert result.exit_code == 1, result.output
    (difference,) = json.loads(result.output)["differences"]
    # As the reading without the batch in flight (its four actions) saw it.
    assert difference["missing_actions"] == 6


def test_settled_keeps_what_every_reading_saw_at_its_smallest() -> None:
    readings = iter([{"a": 5, "b": 1, "c": -2}, {"a": 3, "c": 0}, {"a": 4, "c": -2, "d": 9}])

    def read() -> list[tuple[str, int]]:
        return sorted(next(readings).items())

    found = settled.settled(read, lambda d: d[0], lambda d: d[1], gap_seconds=0)
    assert sorted(found) == [("a", 3), ("c", -2)]  # b and d were not in every reading
    assert settled.settled(list, lambda d: d, lambda d: 0, gap_seconds=0) == []


def test_windows_folded_into_lately_are_left_out_until_they_settle(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under steady writes every reading has a batch in flight (found from outside:
    # exit 1 at 20-300 actions/s): windows folded into within the settle time
    # are left out and said so; once it has passed, they are compared.
    cli.feed([action(n, AT - dt.timedelta(minutes=n)) for n in range(6)])
    cli.store.execute(
        f"DELETE FROM {cli.store.database}.usage_hourly WHERE 1 "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    monkeypatch.setenv("SPUR_RECONCILE_SETTLE_SECONDS", "3")
    result = cli("reconcile", "--month", "2026-11", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["differences"] == []
    assert report["in_flight"]["usage_windows"] >= 1
    assert report["in_flight"]["capacity_minutes"] >= 1
    time.sleep(5)  # seen_at is whole seconds
    result = cli("reconcile", "--month", "2026-11", "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["in_flight"] == {"usage_windows": 0, "capacity_minutes": 0}
    (difference,) = report["differences"]
    assert difference["aggregated"]["actions"] == 0
    assert difference["raw"]["actions"] == 6
