"""An imperfect delivery path for simulated actions: duplicates, disorder, lateness, breakage.

The fault and integration tests publish :func:`deliver`'s messages and check
the pipeline's result against its ground truth (``Delivery.actions`` and
``Delivery.malformed``). Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from spur_schemas.events import Action
from spur_schemas.topics import action_key
from spur_schemas.validate import encode


@dataclass(frozen=True)
class Disorder:
    """How an imperfect delivery path mangles a time-ordered stream."""

    duplicate_rate: float = 0.05  # re-sent later with the same content
    out_of_order_rate: float = 0.02  # delivered up to an hour of event time later
    late_rate: float = 0.005  # delivered three hours of event time later
    malformed_rate: float = 0.01  # broken on the way (each with a known reason)
    seed: int = 3


@dataclass(frozen=True)
class Delivery:
    """Messages in delivery order, and what a correct pipeline must make of them."""

    messages: list[tuple[bytes, bytes]]  # (key, value) for spur.actions.v1
    actions: list[Action]  # every valid action once: the ground truth
    malformed: dict[str, int]  # reason -> how many


def _set(field: str, value: object) -> Callable[[dict[str, Any], Action], dict[str, Any]]:
    return lambda document, _action: {**document, field: value}


def _without(field: str) -> Callable[[dict[str, Any], Action], dict[str, Any]]:
    return lambda document, _action: {k: v for k, v in document.items() if k != field}


# Ways a message breaks on the way, each with the reason the pipeline must give.
_BREAKAGES: tuple[tuple[str, Callable[[dict[str, Any], Action], dict[str, Any]]], ...] = (
    ("unknown_field", _set("document_title", "Quarterly salaries.xlsx")),
    ("missing_field", _without("session_id")),
    ("out_of_range", _set("bytes_in", -1)),
    ("bad_timestamp", _set("started_at", "2026-11-24 10:00")),
    ("ended_before_started", _set("ended_at", "2000-01-01T00:00:00Z")),
    # Same id, other content: the first copy stands.
    ("conflicting_duplicate", lambda d, action: {**d, "bytes_out": action.bytes_out + 1}),
)


def _malform(rng: random.Random, action: Action) -> tuple[bytes, str]:
    if rng.random() < 1 / (len(_BREAKAGES) + 1):
        return encode(action)[: rng.randint(1, 40)], "not_json"
    reason, breakage = rng.choice(_BREAKAGES)
    document = msgspec.json.decode(encode(action))
    return msgspec.json.encode(breakage(document, action)), reason


def deliver(actions: list[Action], disorder: Disorder) -> Delivery:
    """Deliver time-ordered ``actions`` with duplicates, disorder, lateness and breakage."""
    rng = random.Random(disorder.seed)  # reproducible workloads, not secrets
    slots: list[tuple[dt.datetime, int, bytes, bytes]] = []  # (deliver at, tiebreak, key, value)
    malformed: dict[str, int] = {}
    for n, action in enumerate(actions):
        key = action_key(action.action_id)
        at = action.started_at
        draw = rng.random()
        if draw < disorder.late_rate:
            at += dt.timedelta(hours=3)
        elif draw < disorder.late_rate + disorder.out_of_order_rate:
            at += dt.timedelta(seconds=rng.randint(1, 3600))
        slots.append((at, n, key, encode(action)))
        if rng.random() < disorder.duplicate_rate:
            again = at + dt.timedelta(seconds=rng.randint(0, 600))
            slots.append((again, n, key, encode(action)))
        if rng.random() < disorder.malformed_rate:
            value, reason = _malform(rng, action)
            malformed[reason] = malformed.get(reason, 0) + 1
            slots.append((at + dt.timedelta(seconds=1), n, key, value))
    slots.sort(key=lambda slot: (slot[0], slot[1]))
    return Delivery([(key, value) for _, _, key, value in slots], actions, malformed)
