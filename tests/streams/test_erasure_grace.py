"""Erasure wins over an app server's clock that runs ahead (found from outside).

An event may be dated up to the allowed clock skew after its arrival, so one
sent before an erasure can carry a time after it: such events, and dead
letters naming the subject, are erased as well. Dead letters name their
customer also where the id was sent as text or as a float.
"""

from __future__ import annotations

import base64
import datetime as dt

import msgspec

from spur_schemas.messages import DeadLetter
from spur_schemas.metrics import ERASED_DROPPED
from spur_streams.steps.erasure import Tombstones, login_key, without_erased_letters
from tests.fakes import RecordingMetrics

ERASED_AT = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
SKEW = dt.timedelta(seconds=300)
KEY = b"k" * 32


def tombstones(grace: dt.timedelta = SKEW) -> Tombstones:
    return Tombstones(
        customers={601: ERASED_AT},
        logins={login_key(KEY, "ann@example.com"): ERASED_AT},
        key=KEY,
        grace=grace,
    )


def test_events_dated_within_the_clock_skew_after_the_erasure_are_erased() -> None:
    erased = tombstones()
    for later in (dt.timedelta(0), dt.timedelta(seconds=200), SKEW - dt.timedelta(microseconds=1)):
        assert erased.customer_erased_before(601, ERASED_AT + later)
        assert erased.login_erased_before("ann@example.com", ERASED_AT + later)
    assert not erased.customer_erased_before(601, ERASED_AT + SKEW)  # new data after it
    assert not erased.login_erased_before("ann@example.com", ERASED_AT + SKEW)
    assert not erased.customer_erased_before(602, ERASED_AT - SKEW)
    without_grace = tombstones(dt.timedelta(0))
    assert not without_grace.customer_erased_before(601, ERASED_AT + dt.timedelta(seconds=200))


def letter(original: dict[str, object], reason: str = "bad_type") -> DeadLetter:
    return DeadLetter(
        topic="spur.actions.v1",
        partition=0,
        offset=1,
        reason=reason,
        detail="customer_id: Expected `int`, got `str`",
        field="customer_id",
        at=ERASED_AT,
        original_b64=base64.b64encode(msgspec.json.encode(original)).decode(),
        original_truncated=False,
    )


def test_letters_of_an_erased_subject_are_dropped_however_the_customer_was_written() -> None:
    soon = (ERASED_AT + dt.timedelta(seconds=200)).isoformat()
    later = (ERASED_AT + dt.timedelta(days=2)).isoformat()
    erased = [
        letter({"customer_id": "601", "started_at": soon}),
        letter({"customer_id": " 601 ", "started_at": soon}),
        letter({"customer_id": 601.0, "started_at": soon}),
        *(
            letter({"customer_id": text, "started_at": soon})
            for text in ("+601", "601.0", "601e0", "6.01e2", "601.000", "6010e-1", "0601")
        ),
        letter({"customer_id": 601, "started_at": "yesterday"}),
        letter({"login": "ann@example.com", "started_at": soon}),
        # Refused as dated too far ahead: sent before the erasure, for all its time says.
        letter({"login": "ann@example.com", "started_at": later}, "future_timestamp"),
        letter({"customer_id": 601, "started_at": later}, "future_timestamp"),
    ]
    kept = [
        letter({"customer_id": "601", "started_at": later}),  # after the erasure and its grace
        letter({"customer_id": "602", "started_at": soon}),
        letter({"customer_id": True, "started_at": soon}),
        letter({"customer_id": 601.5, "started_at": soon}),
        letter({"customer_id": "601.5", "started_at": soon}),
        letter({"customer_id": "nan", "started_at": soon}),
        letter({"customer_id": "inf", "started_at": soon}),
        letter({"login": "bob@example.com", "started_at": soon}),
    ]
    metrics = RecordingMetrics()
    assert without_erased_letters(erased + kept, tombstones(), metrics) == kept
    assert metrics.counts[(ERASED_DROPPED.name, frozenset())] == len(erased)
