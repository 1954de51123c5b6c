"""Detours of an erased login's actions: re-published without the person, billed the same.

An action read under a wrong key is re-published on its id's partition
(spur_streams.steps.route), where that partition's owner decides it with
every other copy of its id. When the action's login was erased before it
started (:meth:`Tombstones.login_erased_before`), a copy of its original
bytes would put the person's login, session and address back on the
actions topic after the erasure, for the topic's whole retention from then
on (found from outside). Such a detour carries the action without them
(:func:`redacted`) and, in the header :data:`ERASED_HASH_HEADER`, the content
hash of the action as it was sent, sealed with the store's erasure key
(:func:`seal`): the owner dedups the copy by that hash, so the same action
sent again under its own key is a duplicate, not a conflict, and stores no
raw row for it, as for every action of an erased login. Billing reads
neither the login, the session nor the address.

A header without a valid seal (a producer's own, or one sealed with another
store's key) is ignored: the copy is then an action like any other. Pure.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence

import msgspec

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_streams.steps.positions import Position, Positions

ERASED_HASH_HEADER = "spur-erased-hash"
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


def seal(key: bytes, action_id: uuid.UUID, content_hash: int) -> bytes:
    """The header's value: ``content_hash`` and its seal, bound to the action's id."""
    return f"{content_hash}:{_mac(key, action_id, content_hash)}".encode()


def unsealed(key: bytes, action_id: uuid.UUID, header: bytes) -> int | None:
    """The content hash ``header`` holds if its seal is ``key``'s for ``action_id``, else None."""
    if not key:  # no store's key (no tombstones read): nothing can be verified
        return None
    digest, _, mac = header.partition(b":")
    if not digest.isdigit():
        return None
    content_hash = int(digest)
    expected = _mac(key, action_id, content_hash).encode()
    return content_hash if hmac.compare_digest(expected, mac) else None


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
            content_hash = unsealed(key, item.event.action_id, header)
            if content_hash is not None:
                hashes[position] = content_hash
    return hashes


def without_sealed(
    new: list[Located[Action]], sealed: Mapping[Position, int]
) -> list[Located[Action]]:
    """``new`` less the sealed erased detours (no raw row: their login was erased)."""
    if not sealed:
        return new
    return [item for item in new if (item.partition, item.offset) not in sealed]


def _mac(key: bytes, action_id: uuid.UUID, content_hash: int) -> str:
    message = b"erased-detour:%s:%d" % (action_id.bytes, content_hash)
    return hmac.new(key, message, hashlib.sha256).hexdigest()
