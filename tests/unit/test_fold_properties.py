"""The fold is exact under any delivery order, duplication, batching and replay."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Action
from schemas.located import Located
from spur.simulate import WorkloadShape, simulate_actions
from streams.dedup import Seen, classify, content_hash
from streams.usage import UsageState, WindowKey, fold_usage, hour_of, minute_of
from tests.oracle import expected_windows

ACTIONS = simulate_actions(WorkloadShape(customers=3, sessions_per_customer=5, days=2, seed=1))


def totals(states: dict[WindowKey, UsageState]) -> dict[tuple[int, int], tuple[int, ...]]:
    return {
        (k.customer_id, int(k.hour.timestamp())): (
            s.bytes_in,
            s.bytes_out,
            s.actions,
            s.error_actions,
        )
        for k, s in states.items()
    }


class OnePartition:
    """What the pipeline keeps for one partition: the dedup index and window states."""

    def __init__(self) -> None:
        self.index: dict[uuid.UUID, Seen] = {}
        self.states: dict[WindowKey, UsageState] = {}

    def process(self, batch: list[Located[Action]]) -> None:
        result = classify(batch, self.index)
        for item in result.new:
            self.index[item.event.action_id] = Seen(
                content_hash(item.event), item.partition, item.offset
            )
        self.states.update(fold_usage(self.states, result.to_fold))


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Located[Action]], list[int], list[tuple[int, int]]]:
    """Actions in any order with duplicates, cut into batches, some batches replayed."""
    order = draw(st.permutations(ACTIONS))
    copies = draw(st.lists(st.sampled_from(ACTIONS), max_size=len(ACTIONS)))
    stream = list(order)
    for copy in copies:
        stream.insert(draw(st.integers(0, len(stream))), copy)
    located = [Located(action, 0, offset) for offset, action in enumerate(stream)]
    cuts = sorted(draw(st.sets(st.integers(1, len(located) - 1), max_size=20)))
    rewinds = st.tuples(st.integers(0, len(located)), st.integers(1, 50))
    replays = draw(st.lists(rewinds, max_size=5))
    return located, cuts, replays


@given(deliveries())
@settings(max_examples=60, deadline=None)
def test_windows_are_exact_whatever_the_delivery(
    delivery: tuple[list[Located[Action]], list[int], list[tuple[int, int]]],
) -> None:
    located, cuts, replays = delivery
    partition = OnePartition()
    bounds = [0, *cuts, len(located)]
    for start, end in itertools.pairwise(bounds):
        partition.process(located[start:end])
        for at, length in replays:  # a crash: the consumer rewinds and re-reads
            if start <= at < end:
                partition.process(located[max(0, at - length) : end])
    assert totals(partition.states) == expected_windows(ACTIONS)


def test_a_replayed_batch_changes_nothing() -> None:
    located = [Located(action, 0, offset) for offset, action in enumerate(ACTIONS)]
    once = OnePartition()
    once.process(located)
    twice = OnePartition()
    twice.process(located)
    twice.process(located)
    assert once.states == twice.states
    assert max(s.version for s in once.states.values()) == len(located) - 1


def test_hours_and_minutes_are_whole_utc_units_whatever_the_offset() -> None:
    instant = dt.datetime(
        2026, 11, 3, 10, 45, 59, 999_000, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
    )
    assert hour_of(instant) == dt.datetime(2026, 11, 3, 5, 0, tzinfo=dt.UTC)
    assert minute_of(instant) == dt.datetime(2026, 11, 3, 5, 15, tzinfo=dt.UTC)
    assert minute_of(instant + dt.timedelta(milliseconds=1)) == dt.datetime(
        2026, 11, 3, 5, 16, tzinfo=dt.UTC
    )
