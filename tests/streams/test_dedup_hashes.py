"""Content hashes are of the contract's canonical encoding, for any action."""

from __future__ import annotations

import uuid

import msgspec
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.validate import encode
from spur_streams.dedup import classify, content_hash, content_hashes
from tests.sinks.test_stored_values import actions


@given(st.lists(actions(), max_size=5))
def test_content_hashes_hash_the_contracts_encoding(batch: list[Action]) -> None:
    """The index keeps these hashes: another encoding would make every later copy
    of an action counted before it a conflict."""
    expected = [xxhash.xxh3_64_intdigest(encode(a)) for a in batch]
    assert list(content_hashes(batch)) == expected
    assert [content_hash(a) for a in batch] == expected


@given(st.lists(actions(), min_size=1, max_size=5))
def test_classify_hashes_each_new_action_and_sorts_its_copies(batch: list[Action]) -> None:
    """A copy with the same content is a duplicate, one with other content a conflict."""
    first = batch[0]
    changed = msgspec.structs.replace(first, bytes_in=first.bytes_in ^ 1)
    result = classify([Located(a, 0, n) for n, a in enumerate([*batch, first, changed])], {})
    firsts: dict[uuid.UUID, Action] = {}
    for event in batch:
        firsts.setdefault(event.action_id, event)
    assert [item.event for item in result.new] == list(firsts.values())
    assert result.hashes == [content_hash(event) for event in firsts.values()]
    assert first in [item.event for item in result.duplicates]
    assert changed in [item.event for item in result.conflicts]
