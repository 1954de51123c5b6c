"""The batch's decisions taken a slice at a time equal those over the whole batch.

Random batches: copies of a few actions (same content: duplicates; other
content: conflicts) on right and wrong partitions, re-routed copies, ids the
index knows (same hash, another, unknown), an erased customer, profiles with
and without consent, both IP policies. Every slice size from one action up
gives the same rows (raw and fold), touched hours, minutes and subjects,
detours, dead letters and counters as one pass over the whole batch.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from spur_schemas.events import Action, Profile
from spur_schemas.located import Located
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from spur_streams.dedup import UNKNOWN_HASH, content_hash
from spur_streams.privacy import ConsentDecision, ConsentLedger
from spur_streams.steps.decide import Decided, DecideRules, RowBuilders, decide
from spur_streams.steps.erasure import Tombstones, login_key
from spur_streams.steps.lateness import Lateness
from spur_streams.steps.reads import BatchReads, KnownConsent, KnownIds
from spur_streams.steps.validate import Message
from tests.fakes import MemoryStore, RecordingMetrics
from tests.streams.helpers import NOW

PARTITIONS = 4
KEY = b"erasure key"


def _base(n: int, customer: int, hours_ago: int, profiled: bool) -> Action:
    started = NOW - dt.timedelta(hours=hours_ago)
    return Action(
        action_id=uuid.UUID(int=n + 1),
        action="document.export",
        customer_id=customer,
        login=f"user{n % 3}@example.com",
        session_id="s-1",
        started_at=started,
        ended_at=started + dt.timedelta(seconds=1),
        bytes_in=100,
        bytes_out=2000 + n,
        client_ip="192.0.2.77",
        profile=Profile(locale="de-DE") if profiled else None,
    )


copies = st.tuples(
    st.integers(0, 5),  # which action
    st.booleans(),  # other content (a conflict unless first)
    st.integers(0, PARTITIONS - 1),
    st.booleans(),  # re-routed here by a worker
)
bases = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 40), st.booleans()), min_size=6, max_size=6
)
known = st.dictionaries(st.integers(0, 5), st.sampled_from(["same", "other", "unknown"]))


@dataclass
class Case:
    items: list[Located[Action]]
    messages: list[Message]
    reads: BatchReads
    partitions: int | None
    policy: str


@st.composite
def cases(draw: st.DrawFn) -> Case:
    actions = [_base(n, *shape) for n, shape in enumerate(draw(bases))]
    offsets = dict.fromkeys(range(PARTITIONS), 0)
    placed = []
    for which, changed, partition, detoured in draw(st.lists(copies, min_size=1, max_size=30)):
        event = actions[which]
        if changed:
            event = msgspec.structs.replace(event, bytes_in=event.bytes_in + 1)
        offsets[partition] += 1
        message = Message(
            Topic.ACTIONS.value, partition, offsets[partition], encode(event), detoured=detoured
        )
        placed.append((Located(event, partition, offsets[partition]), message))
    # A batch holds its messages grouped by partition, each in offset order.
    placed.sort(key=lambda pair: (pair[0].partition, pair[0].offset))
    answers = {"same": 0, "other": 1}  # added to the content hash
    index = {
        actions[n].action_id: UNKNOWN_HASH
        if how == "unknown"
        else content_hash(actions[n]) + answers[how]
        for n, how in draw(known).items()
    }
    customer = draw(st.none() | st.integers(1, 3))
    login = draw(st.none() | st.sampled_from([f"user{n}@example.com" for n in range(3)]))
    erased = Tombstones(
        customers={} if customer is None else {customer: NOW - dt.timedelta(hours=20)},
        logins={} if login is None else {login_key(KEY, login): NOW - dt.timedelta(hours=10)},
        key=KEY,
    )
    granted = [ConsentDecision(NOW - dt.timedelta(days=9), True)]
    reads = BatchReads(
        erased, KnownIds(index), KnownConsent(ConsentLedger({"user1@example.com": granted}))
    )
    return Case(
        [item for item, _ in placed],
        [message for _, message in placed],
        reads,
        draw(st.sampled_from([None, PARTITIONS])),
        draw(st.sampled_from(["full", "truncate"])),
    )


def _run(case: Case, slice_size: int) -> tuple[Decided, dict[Any, float]]:
    metrics = RecordingMetrics()
    lateness = Lateness(dt.timedelta(hours=2), metrics)
    rules = DecideRules(case.partitions, case.policy, lateness, metrics)  # type: ignore[arg-type]
    store = MemoryStore()  # its rows: the items themselves
    builders = RowBuilders(store, store)
    decided = decide(
        case.items,
        case.reads,
        case.messages,
        NOW,
        rules=rules,
        builders=builders,
        slice_size=slice_size,
    )
    return decided, dict(metrics.counts)


def _joined(parts: list[Any]) -> list[Any]:
    return [row for part in parts for row in part]


@settings(max_examples=200, deadline=None)
@given(cases(), st.integers(1, 8))
def test_slices_decide_as_the_whole_batch(case: Case, slice_size: int) -> None:
    whole, whole_counts = _run(case, len(case.items))
    sliced, sliced_counts = _run(case, slice_size)
    assert _joined(sliced.raw_rows) == _joined(whole.raw_rows)
    assert _joined(sliced.fold_rows) == _joined(whole.fold_rows)
    assert (sliced.hours, sliced.minutes) == (whole.hours, whole.minutes)
    assert sliced.subjects == whole.subjects
    assert sliced.detours == whole.detours
    assert sliced.conflicts == whole.conflicts
    assert sliced_counts == whole_counts
    assert len(sliced.raw_rows) == -(-len(case.items) // slice_size)  # a part per slice
