"""A batch's step laps: seconds measured early are moved to the step they were (carry)."""

from __future__ import annotations

import types

import pytest

from spur_schemas.metrics import BATCH_STEP_SECONDS
from spur_streams.steps import clock as clock_module
from spur_streams.steps.clock import StepClock
from tests.fakes import RecordingMetrics


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The clock's time, set by the test (``now[0]``)."""
    instant = [100.0]
    monkeypatch.setattr(
        clock_module, "time", types.SimpleNamespace(perf_counter=lambda: instant[0])
    )
    return instant


def _laps(metrics: RecordingMetrics) -> dict[str, float]:
    return {
        labels["step"]: seconds
        for name, seconds, labels in metrics.observed
        if name == BATCH_STEP_SECONDS.name
    }


def test_carried_seconds_leave_the_current_lap_and_join_their_steps(now: list[float]) -> None:
    metrics = RecordingMetrics()
    clock = StepClock(metrics, "spur.actions.v1")
    now[0] += 5.0
    clock.carry({"store_raw": 2.0, "fold": 1.0})  # of the 5 s so far: the later steps' rows
    clock.carry({"store_raw": 0.5})
    clock.lap("route_dedup_privacy")
    now[0] += 4.0
    clock.lap("store_raw")  # its insert, and its rows built before
    clock.lap("fold")  # only what was carried
    clock.lap("windows_touched")
    assert _laps(metrics) == {
        "route_dedup_privacy": 1.5,
        "store_raw": 6.5,
        "fold": 1.0,
        "windows_touched": 0.0,
    }
    assert sum(_laps(metrics).values()) == clock.elapsed()  # nothing counted twice


def test_without_carry_a_lap_is_the_time_since_the_last(now: list[float]) -> None:
    metrics = RecordingMetrics()
    clock = StepClock(metrics, "spur.actions.v1")
    now[0] += 3.0
    assert clock.lap("validate") == 3.0
    assert clock.lap("reads") == 0.0
