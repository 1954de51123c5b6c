"""Step ``erasure``: erasure is final (docs/design.md#the-erasure-protocol).

Input: the batch's valid events (or dead letters) and the tombstones read
from an :class:`ErasureLog` at the start of the batch.
Output: the same, without what belongs to an erased subject: actions of an
erased customer from before the erasure (counted in ``ERASED_DROPPED``),
raw rows of an erased login (still billed: a login's erasure leaves the
customer's invoice alone), dead letters whose original names an erased
subject. After the batch's writes, :func:`delete_what_raced` reads the
tombstones again and deletes once more what a fresh erasure may have raced.
Guarantees: no replay, re-send or late arrival brings erased data back.
Failure: the filters are pure and never raise; the log's reads and deletes
block and retry inside (spur_sinks.writer) until the store accepts them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import msgspec

from spur_schemas.events import Action, Consent
from spur_schemas.located import Located
from spur_schemas.messages import DeadLetter
from spur_schemas.metrics import ERASED_DROPPED, Metrics

S = TypeVar("S", Action, Consent)  # events that name a customer and a login

SubjectKind = Literal["customer", "login"]


def login_key(key: bytes, login: str) -> str:
    """A login as tombstones hold it: a keyed hash, never the login itself."""
    return hmac.new(key, login.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Tombstones:
    """Erased subjects: customer id / login key -> when (the earliest erasure counts last).

    ``grace``: how far after its erasure an event may be dated and still be
    from before it. An app server's clock may run ahead by the allowed clock
    skew (docs/events.md), so an event sent before the erasure can carry a
    time up to that much after it (found from outside: such events, sent
    before, came back after the erasure). Events dated within it are erased
    too: erasure wins over the few seconds of new data it may also take.
    """

    customers: dict[int, dt.datetime] = field(default_factory=dict)
    logins: dict[str, dt.datetime] = field(default_factory=dict)
    key: bytes = b""
    ids: frozenset[str] = frozenset()
    grace: dt.timedelta = dt.timedelta(0)

    def customer_erased_before(self, customer_id: int, started_at: dt.datetime) -> bool:
        erased = self.customers.get(customer_id)
        return erased is not None and started_at < erased + self.grace

    def login_erased_before(self, login: str, started_at: dt.datetime) -> bool:
        if not self.logins:
            return False
        erased = self.logins.get(login_key(self.key, login))
        return erased is not None and started_at < erased + self.grace


NO_TOMBSTONES = Tombstones()


class ErasureLog(Protocol):
    """The tombstones of ``spur erase``. Blocks; retries store failures inside."""

    def read(self) -> Tombstones: ...

    def delete_again(self, kind: SubjectKind, value: str) -> None:
        """Delete a subject's rows once more (a batch raced its erasure)."""


def without_erased_customers(
    items: list[Located[Action]], erased: Tombstones, metrics: Metrics
) -> list[Located[Action]]:
    """Drop (and count) actions of erased customers from before their erasure:
    a replay, a client's re-sent spool or a late arrival must not bring them back."""
    if not erased.customers:
        return items
    kept = [
        item
        for item in items
        if not erased.customer_erased_before(item.event.customer_id, item.event.started_at)
    ]
    metrics.inc(ERASED_DROPPED, len(items) - len(kept))
    return kept


def without_erased_logins(new: list[Located[Action]], erased: Tombstones) -> list[Located[Action]]:
    """The new actions whose raw rows may be stored: ``new`` itself (the same list)
    unless logins were erased; then without those erased after the action started."""
    if not erased.logins:
        return new
    return [i for i in new if not erased.login_erased_before(i.event.login, i.event.started_at)]


def without_erased_letters(
    letters: list[DeadLetter], erased: Tombstones, metrics: Metrics
) -> list[DeadLetter]:
    """Drop (and count) rejects of erased subjects: their originals hold the
    subject's data, which a replay or re-send must not bring back either."""
    if not (erased.customers or erased.logins) or not letters:
        return letters
    kept = [letter for letter in letters if not _of_erased_subject(letter, erased)]
    metrics.inc(ERASED_DROPPED, len(letters) - len(kept))
    return kept


@dataclass(frozen=True)
class Subjects:
    """The customers and logins a batch's events name: all its erasure check needs
    of them (a batch's tail keeps this, not the events)."""

    customers: frozenset[int]
    logins: frozenset[str]


def subjects_of(accepted: Sequence[Located[S]]) -> Subjects:
    """The subjects of a batch's actions or consent decisions (both name a
    customer and a login)."""
    return Subjects(
        frozenset(item.event.customer_id for item in accepted),
        frozenset(item.event.login for item in accepted),
    )


def delete_what_raced(log: ErasureLog, before: Tombstones, subjects: Subjects) -> None:
    """Subjects erased while this batch ran: delete their rows once more.

    ``subjects``: those of the batch's accepted events (:func:`subjects_of`);
    ``before``: the tombstones the batch started with.
    """
    after = log.read()
    if after.ids <= before.ids:
        return
    for customer, at in after.customers.items():
        if customer in subjects.customers and before.customers.get(customer) != at:
            log.delete_again("customer", str(customer))
    fresh_keys = {key for key, at in after.logins.items() if before.logins.get(key) != at}
    for login in subjects.logins:
        if fresh_keys and login_key(after.key, login) in fresh_keys:
            log.delete_again("login", login)


def _of_erased_subject(letter: DeadLetter, erased: Tombstones) -> bool:
    """Whether a reject's original names an erased customer or login (from before
    the erasure, or of unknown time: an unparseable time cannot prove it later)."""
    try:
        original = msgspec.json.decode(base64.b64decode(letter.original_b64))
    except Exception:  # not JSON at all: it names no subject
        return False
    if not isinstance(original, dict):
        return False
    # A time refused as too far ahead says nothing of when the event was sent.
    when = None if letter.reason in _UNTRUSTED_TIMES else _event_time(original)
    customer = _customer_id(original.get("customer_id"))
    if customer is not None and customer in erased.customers:
        return when is None or erased.customer_erased_before(customer, when)
    login = original.get("login")
    if isinstance(login, str) and erased.logins:
        if login_key(erased.key, login) not in erased.logins:
            return False
        return when is None or erased.login_erased_before(login, when)
    return False


_UNTRUSTED_TIMES = frozenset({"future_timestamp", "bad_timestamp"})


def _customer_id(value: object) -> int | None:
    """The customer a rejected original names, also where it gave the id as text or
    as a float (``"601"``, ``"+601"``, ``"6.01e2"``, ``601.0``: rejected for that,
    and still the customer's, as ``spur erase`` and ``spur export`` read it)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):  # "601", "+601", "601.0", "6.01e2": the store reads each as 601
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _event_time(original: dict[str, Any]) -> dt.datetime | None:
    value = original.get("started_at", original.get("ts"))
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
