"""Detours of an erased login's actions: re-published without the person, billed the same.

An action read under a wrong key is re-published on its id's partition
(spur_streams.steps.route), where that partition's owner decides it with
every other copy of its id. When the action's login was erased before it
started (:meth:`Tombstones.login_erased_before`), a copy of its original
bytes would put the person's login, session and address back on the
actions topic after the erasure, for the topic's whole retention from then
on (found from outside). Such a detour carries the action without them
(:func:`redacted`) and, in the header :data:`ERASED_HASH_HEADER`, the content
hash of the action as it was sent, sealed with the store's erasure key over
the action's id, that hash and the copy's own bytes (:func:`seal`; a header
copied onto other bytes does not verify: found from outside, a copied seal
let a conflicting copy pass as a duplicate and the original bytes be
re-published): the owner dedups the copy by that hash, so the same action
sent again under its own key is a duplicate, not a conflict, and stores no
raw row for it, as for every action of an erased login. Billing reads
neither the login, the session nor the address.

A header without a valid seal (a producer's own, one copied from another
message, or one sealed with another store's key) is ignored: the copy is
then an action like any other.

A batch reads the erasures when it starts and publishes its detours at its
end, :data:`DETOUR_CHUNK` at a time; :func:`after_erasures` judges each
chunk again against the erasures read just before it is sent (found from
outside: an erasure during a batch let its copies out with the login). Pure.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence

import msgspec

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.rejections import Rejection
from spur_schemas.topics import Topic, action_key
from spur_schemas.validate import decode_struct
from spur_streams.dedup import content_hash
from spur_streams.steps.detours import Detour
from spur_streams.steps.erasure import Tombstones
from spur_streams.steps.positions import Position, Positions
from spur_streams.steps.validate import Message

ERASED_HASH_HEADER = "spur-erased-hash"
# Detours sent between two reads of the erasures: what an erasure recorded
# meanwhile can miss (tens of milliseconds of sending and acknowledging).
DETOUR_CHUNK = 2000
# Valid values (the copy must pass validation where it lands) that say what they are.
REDACTED_LOGIN = "[erased]"
REDACTED_SESSION = "[erased]"
REDACTED_ADDRESS = "0.0.0.0"  # noqa: S104  # an address to store, not to bind


def redacted(event: Action) -> bytes:
    """``event`` as its detour carries it: no login, session, address or profile."""
    return msgspec.json.encode(
        msgspec.structs.replace(
            event,
            login=REDACTED_LOGIN,
            session_id=REDACTED_SESSION,
            client_ip=REDACTED_ADDRESS,
            profile=None,
        )
    )


def seal(key: bytes, action_id: uuid.UUID, digest: int, value: bytes) -> bytes:
    """The header's value: ``digest`` (a content hash) and its seal, bound to the
    action's id and to ``value``, the bytes the header goes with."""
    return f"{digest}:{_mac(key, action_id, digest, value)}".encode()


def unsealed(key: bytes, action_id: uuid.UUID, header: bytes, value: bytes) -> int | None:
    """The content hash ``header`` holds if its seal is ``key``'s for ``action_id`` and
    ``value`` (the message's bytes), else None."""
    if not key:  # no store's key (no tombstones read): nothing can be verified
        return None
    text, _, mac = header.partition(b":")
    if not text.isdigit():
        return None
    digest = int(text)
    expected = _mac(key, action_id, digest, value).encode()
    return digest if hmac.compare_digest(expected, mac) else None


def sealed_detour(
    topic_partition: tuple[Topic, int], event: Action, origin: Message, key: bytes
) -> Detour:
    """The detour of an erased login's ``event``: without the person, sealed."""
    value = redacted(event)
    header = seal(key, event.action_id, content_hash(event), value)
    topic, partition = topic_partition
    return Detour(topic, partition, action_key(event.action_id), value, origin, header)


def after_erasures(detours: Sequence[Detour], erased: Tombstones) -> tuple[list[Detour], int]:
    """``detours`` judged again by ``erased`` (read just before they are published): an
    erased customer's action dropped (as on arrival; counted: the second value), an
    erased login's redacted and sealed; the others as they are.

    Each action is decoded again from its bytes, as validation decoded it: the
    batch does not keep its events for this (a batch's detours can be all of it),
    and this runs only when an erasure was recorded while the batch ran.
    """
    judged, dropped = [], 0
    for detour in detours:
        event = _action_of(detour)
        if event is None or detour.origin is None:  # origin: narrowed for the type checker
            judged.append(detour)
        elif erased.customer_erased_before(event.customer_id, event.started_at):
            dropped += 1
        elif erased.login_erased_before(event.login, event.started_at):
            where = (detour.topic, detour.partition)
            judged.append(sealed_detour(where, event, detour.origin, erased.key))
        else:
            judged.append(detour)
    return judged, dropped


def judged_again(detour: Detour) -> bool:
    """Whether an erasure recorded after ``detour`` was decided can concern it: a
    producer's action copied as sent (not consent, a tombstone, a sealed copy or a
    message of the worker's own)."""
    return (
        detour.topic is Topic.ACTIONS
        and detour.erased_hash is None
        and bool(detour.value)
        and detour.origin is not None
    )


def _action_of(detour: Detour) -> Action | None:
    """The action a detour carries as sent, when an erasure can concern it."""
    if not judged_again(detour) or detour.value is None:
        return None
    event = decode_struct(detour.value, Action)  # valid when it was routed
    return None if isinstance(event, Rejection) else event


def sealed_hashes(
    accepted: Sequence[Located[Action]], positions: Positions, key: bytes
) -> dict[Position, int]:
    """The content hash of each of ``accepted`` that came as a sealed erased detour."""
    sealed = positions.erased_hashes
    if not sealed:
        return {}
    hashes = {}
    for item in accepted:
        position = (item.partition, item.offset)
        header = sealed.get(position)
        if header is not None:
            digest = unsealed(key, item.event.action_id, header, positions[position].value)
            if digest is not None:
                hashes[position] = digest
    return hashes


def without_sealed(
    new: list[Located[Action]], sealed: Mapping[Position, int]
) -> list[Located[Action]]:
    """``new`` less the sealed erased detours (no raw row: their login was erased)."""
    if not sealed:
        return new
    return [item for item in new if (item.partition, item.offset) not in sealed]


def _mac(key: bytes, action_id: uuid.UUID, digest: int, value: bytes) -> str:
    message = b"erased-detour:%s:%d:%s" % (action_id.bytes, digest, value)
    return hmac.new(key, message, hashlib.sha256).hexdigest()
