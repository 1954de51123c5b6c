"""The batch's three reads at once (spur_streams.steps.reads) over in-memory fakes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Sequence

import msgspec

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.validate import decode
from spur_streams.privacy import ConsentDecision, ConsentLedger
from spur_streams.steps.erasure import Tombstones
from spur_streams.steps.reads import read_at_once
from tests.streams.helpers import NOW, action


class SlowReads:
    """Each read waits until all three were asked: they pass only if sent at once."""

    def __init__(self, counted: dict[uuid.UUID, int]) -> None:
        self.all_asked = threading.Barrier(3, timeout=5)
        self._counted = counted
        self.asked_ids: list[uuid.UUID] = []
        self.asked_logins: set[str] = set()

    def read(self) -> Tombstones:
        self.all_asked.wait()
        return Tombstones(customers={9: NOW})

    def delete_again(self, kind: object, value: str) -> None:
        raise AssertionError("not a read")

    def counted(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        self.asked_ids = list(ids)
        self.all_asked.wait()
        return {i: h for i, h in self._counted.items() if i in ids}

    def ledger(self, logins: Collection[str]) -> ConsentLedger:
        self.asked_logins = set(logins)
        self.all_asked.wait()
        return ConsentLedger({login: [ConsentDecision(NOW, True)] for login in logins})


def located(**changes: object) -> Located[Action]:
    event = decode(msgspec.json.encode(action(**changes)), Action)
    assert isinstance(event, Action)
    return Located(event, 0, 0)


def test_the_three_reads_are_sent_at_once_and_answer_what_the_steps_ask() -> None:
    with_profile = located(login="ann@example.com", profile={"locale": "de"})
    plain = located(login="bob@example.com")
    store = SlowReads({with_profile.event.action_id: 17})
    reads = read_at_once([with_profile, plain], store, store, store)
    assert reads.erased.customers == {9: NOW}
    assert store.asked_ids == [with_profile.event.action_id, plain.event.action_id]
    # Only logins whose actions carry a profile need the ledger.
    assert store.asked_logins == {"ann@example.com"}
    assert reads.index.counted([plain.event.action_id]) == {}
    assert reads.index.counted([with_profile.event.action_id, plain.event.action_id]) == {
        with_profile.event.action_id: 17
    }
    assert reads.consent.ledger({"ann@example.com"}).granted_at("ann@example.com", NOW)
