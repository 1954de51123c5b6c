"""Decode bytes into a contract event or a rejection with a stable reason code.

Pure and total: :func:`decode` and :func:`validate` never raise, whatever
the bytes. Every rejection carries one of :data:`REASONS` and a detail naming
the field, so a dead letter says exactly what to fix.

:func:`decode` judges the bytes alone; :func:`validate` also judges the
event's times against its arrival (docs/events.md: ``future_timestamp``,
``beyond_retention``). The limits come in as plain values (:class:`TimeLimits`),
so this layer knows nothing of settings.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import msgspec

from spur_schemas.action_names import named_once, well_named, with_strict_name
from spur_schemas.addresses import is_ip_address
from spur_schemas.events import (
    MAX_EVENT_BYTES,
    Action,
    Consent,
    Event,
    FormSubmission,
    WebRequest,
)
from spur_schemas.rejections import Rejection, refusal

REASONS: Final = (
    "not_json",
    "not_object",
    "unknown_field",
    "missing_field",
    "bad_type",
    "out_of_range",
    "bad_timestamp",
    "ended_before_started",
    "too_large",
    "conflicting_duplicate",
    "future_timestamp",
    "beyond_retention",
)


E = TypeVar("E", bound=Event)

# Keyed by the struct class; typed loosely because mypy cannot index a dict
# of a union's classes with a TypeVar bound to the union.
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(kind) for kind in (Action, WebRequest, FormSubmission, Consent)
}


# What the contract's decoder answers for a message the fast one refused, or
# one whose action name fails the pattern (spur_schemas.action_names).
_EXACT_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {
    **_DECODERS,
    Action: msgspec.json.Decoder(with_strict_name(Action)),
}
_FAST_ALONE = Rejection("bad_type", "refused by the fast decoder alone")  # never, but typed


# A time with more than six fraction digits (Go's and Java's nanoseconds):
# msgspec rounds it to microseconds, and .9999995 at a month's last second
# became the next month. Such times are cut to microseconds instead, so an
# action stays in the millisecond, hour and month it started in.
LONG_FRACTION = re.compile(rb"\.\d{7}")
# RFC 3339 lets "t" or a space stand for "T" (found from outside: those were rounded).
_TIME_TO_MICROSECONDS = re.compile(rb"([Tt ]\d\d:\d\d:\d\d\.\d{6})\d+")
# Each kind's time fields in the struct's order, which puts first the one its
# table's TTL counts from (an action's started_at, before ended_at).
TIME_FIELDS = {
    kind: tuple(
        f.name
        for f in msgspec.structs.fields(kind)
        if dt.datetime in (f.type, *typing.get_args(f.type))
    )
    for kind in _DECODERS
}


def decode(raw: bytes, kind: type[E]) -> E | Rejection:
    """Decode one message of ``kind``; return the event or why it was rejected."""
    event = decode_struct(raw, kind)
    return event if isinstance(event, Rejection) else check_rules(event)


def decode_struct(raw: bytes, kind: type[E], *, long_fractions: bool = True) -> E | Rejection:
    """``raw`` decoded as ``kind``, or why not. ``long_fractions=False``: the caller
    knows ``raw`` holds no fraction of more than six digits
    (spur_schemas.validator.any_long_fraction)."""
    if len(raw) > MAX_EVENT_BYTES:
        return Rejection("too_large", f"{len(raw)} bytes, at most {MAX_EVENT_BYTES} allowed")
    try:
        event: E = _DECODERS[kind].decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):  # ValidationError is a DecodeError
        # The contract's decoder is stricter still: it refuses too, and says why.
        return refusal(_EXACT_DECODERS[kind], raw) or _FAST_ALONE
    if isinstance(event, Action) and not (named_once(raw) and well_named(event.action)):
        why = refusal(_EXACT_DECODERS[Action], raw)
        if why is not None:
            return why
    # A backslash: a time's characters may be escaped (\u0039 for 9), out of the search's sight.
    if long_fractions and (LONG_FRACTION.search(raw) or b"\\" in raw):  # rare; ~0.5 µs
        return _times_cut_to_microseconds(raw, kind, event)
    return event


def _times_cut_to_microseconds(raw: bytes, kind: type[E], event: E) -> E:
    """``event`` with its times decoded again from ``raw`` cut after six fraction digits."""
    if b"\\" in raw:  # the escapes written out (a key given twice: its last value, as decoded)
        raw = msgspec.json.encode(msgspec.json.decode(raw))
    if not LONG_FRACTION.search(raw):
        return event
    cut: E = _DECODERS[kind].decode(_TIME_TO_MICROSECONDS.sub(rb"\1", raw))
    times = {name: getattr(cut, name) for name in TIME_FIELDS[kind]}
    return msgspec.structs.replace(event, **times)


def check_rules(event: E) -> E | Rejection:
    # Explicit UTC offsets are enforced by the structs (Meta(tz=True)).
    if isinstance(event, Action) and event.ended_at < event.started_at:
        return Rejection(
            "ended_before_started",
            f"ended_at {event.ended_at.isoformat()} is before started_at "
            f"{event.started_at.isoformat()}",
            "ended_at",
        )
    client_ip = getattr(event, "client_ip", None)
    if client_ip is not None and not is_ip_address(client_ip):
        return Rejection("bad_type", "client_ip: not an IPv4 or IPv6 address", "client_ip")
    identity = _IDENTITY[type(event)]
    if getattr(event, identity).int == 0:  # the nil UUID (UUID.__eq__ runs in Python)
        # The store writes the nil UUID for "none" (an action without a parent),
        # so as an event's own id it would read as no id at all.
        return Rejection("bad_type", f"{identity}: the nil UUID is reserved", identity)
    return event


_IDENTITY: dict[type[Any], str] = {
    Action: "action_id",
    WebRequest: "request_id",
    FormSubmission: "submission_id",
    Consent: "consent_id",
}


@dataclass(frozen=True, slots=True)
class TimeLimits:
    """How far from its arrival an event time may lie (docs/events.md).

    ``clock_skew``: how much later than its arrival an event time may be (a
    producer's clock running ahead). ``retention``: how much older it may be,
    the retention of the table storing it; ``None`` when that table keeps
    rows until erasure (the consent ledger).
    """

    clock_skew: dt.timedelta
    retention: dt.timedelta | None


def validate(raw: bytes, kind: type[E], arrival: dt.datetime, limits: TimeLimits) -> E | Rejection:
    """:func:`decode` with :func:`check_times`: what every input path accepts.

    The times are judged before the other rules: a clock gone wrong is
    reported as such (``future_timestamp`` rather than ``ended_before_started``
    for a start in the year 9999).
    """
    event = decode_struct(raw, kind)
    if isinstance(event, Rejection):
        return event
    return check_times(event, arrival, limits) or check_rules(event)


def check_times(event: Event, arrival: dt.datetime, limits: TimeLimits) -> Rejection | None:
    """Why the event's times are unacceptable at ``arrival``, or None if they are fine.

    ``future_timestamp``: an event time later than ``arrival + clock_skew``
    (exactly at the limit is accepted). A clock running ahead must not move a
    watermark or outlive the policy; it also bounds every time the store sees
    (ClickHouse's DateTime and TTL arithmetic overflow after 2106, so a year
    9999 row would vanish on insert while its id and window stayed).
    ``beyond_retention``: the time the table's TTL counts from is older than
    ``arrival - retention`` (exactly at the limit is accepted): the TTL would
    delete the row on arrival; for an action also the start of its UTC hour,
    from which its usage window's TTL counts. ``arrival`` must be timezone-aware.
    """
    times = _event_times(event)
    latest = arrival + limits.clock_skew
    for name, at in times:
        if at > latest:
            return Rejection(
                "future_timestamp",
                f"{name} {at.isoformat()} is {_duration(at - arrival)} after its arrival "
                f"{arrival.isoformat()}; at most {_duration(limits.clock_skew)} of clock "
                "skew is allowed",
                name,
            )
    if limits.retention is not None:
        name, at = times[0]
        earliest = arrival - limits.retention
        if at < earliest:
            return Rejection(
                "beyond_retention",
                f"{name} {at.isoformat()} is more than {_duration(limits.retention)} before "
                f"its arrival {arrival.isoformat()}: its table's retention would delete it "
                "on arrival",
                name,
            )
        if isinstance(event, Action) and (hour := _utc_hour(at)) < earliest:
            # Its usage hour is kept as long as the action (TTL hour + the same
            # days): already deleted, the action would be stored but never billed.
            return Rejection(
                "beyond_retention",
                f"{name} {at.isoformat()} is in the hour of {hour.isoformat()}, more than "
                f"{_duration(limits.retention)} before its arrival {arrival.isoformat()}: "
                "the retention would delete its usage window on arrival",
                name,
            )
    return None


def _utc_hour(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def retention_margin(kind: type[Any]) -> dt.timedelta:
    """How much later than ``arrival - retention`` an event time must be for
    :func:`check_times` to pass it whatever its minutes (an action: its hour's start counts)."""
    return _HOUR if kind is Action else dt.timedelta(0)


_HOUR = dt.timedelta(hours=1)


def _event_times(event: Event) -> tuple[tuple[str, dt.datetime], ...]:
    """The event's times by field name; first the one its table's TTL counts from."""
    return tuple((name, getattr(event, name)) for name in TIME_FIELDS[type(event)])


def _duration(delta: dt.timedelta) -> str:
    """A short human duration: ``300 s``, ``3 days``, ``2912107 days``."""
    if delta >= dt.timedelta(days=2):
        return f"{delta.days} days"
    return f"{delta.total_seconds():g} s"


def encode(event: Event) -> bytes:
    """Encode an event as contract JSON (the wire format of every input topic)."""
    return msgspec.json.encode(event)
