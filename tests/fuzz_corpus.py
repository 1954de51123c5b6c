"""A corpus of malformed action events, each with the reason it must be rejected for.

Built from valid actions by seeded mutations (random bytes, truncation, extra
fields, missing fields, wrong types, out-of-range numbers, bad timestamps,
oversized and non-UTF-8 payloads). Every candidate is checked against the
decoder, so the corpus holds only messages that are really invalid, each with
the reason code the pipeline must report.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import msgspec

from spur_schemas.events import Action
from spur_schemas.rejections import Rejection
from spur_schemas.validate import decode, encode

Mutation = Callable[[random.Random, dict[str, object], bytes], bytes]
FIELDS = sorted(Action.__struct_fields__)
REQUIRED = [
    "action_id", "action", "customer_id", "login", "session_id", "started_at", "ended_at",
    "bytes_in", "bytes_out", "client_ip",
]  # fmt: skip
WRONG_VALUES: list[object] = [None, True, 1.5, -7, "", "x" * 300, [], {}, [1, 2], {"a": 1}, 2**64]


def _random_bytes(rng: random.Random, _doc: dict[str, object], _raw: bytes) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))


def _truncated(rng: random.Random, _doc: dict[str, object], raw: bytes) -> bytes:
    return raw[: rng.randint(0, len(raw) - 1)]


def _extra_field(rng: random.Random, doc: dict[str, object], _raw: bytes) -> bytes:
    name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(1, 20)))
    if name in FIELDS:
        name += "_x"
    return msgspec.json.encode({**doc, name: rng.choice(["secret content", 42, {"a": [1]}])})


def _missing_field(rng: random.Random, doc: dict[str, object], _raw: bytes) -> bytes:
    gone = rng.choice(REQUIRED)
    return msgspec.json.encode({k: v for k, v in doc.items() if k != gone})


def _wrong_value(rng: random.Random, doc: dict[str, object], _raw: bytes) -> bytes:
    return msgspec.json.encode({**doc, rng.choice(FIELDS): rng.choice(WRONG_VALUES)})


def _bad_timestamp(rng: random.Random, doc: dict[str, object], _raw: bytes) -> bytes:
    bad = rng.choice(
        ["yesterday", "2026-13-01T00:00:00Z", "2026-11-24 10:00", "2026-11-24T10:00:00"]
    )
    return msgspec.json.encode({**doc, rng.choice(["started_at", "ended_at"]): bad})


def _not_an_object(rng: random.Random, doc: dict[str, object], _raw: bytes) -> bytes:
    return msgspec.json.encode(rng.choice([list(doc.values()), "text", 7, None, [doc]]))


def _oversized(rng: random.Random, doc: dict[str, object], _raw: bytes) -> bytes:
    return msgspec.json.encode({**doc, "server": "s" * rng.randint(65_536, 80_000)})


def _not_utf8(rng: random.Random, _doc: dict[str, object], raw: bytes) -> bytes:
    cut = rng.randint(1, len(raw) - 2)
    return raw[:cut] + b"\xff\xfe" + raw[cut:]


MUTATIONS: list[Mutation] = [
    _random_bytes, _truncated, _extra_field, _missing_field, _wrong_value,
    _bad_timestamp, _not_an_object, _oversized, _not_utf8,
]  # fmt: skip


def malformed_corpus(valid: list[Action], size: int, seed: int = 1) -> list[tuple[bytes, str]]:
    """``size`` malformed messages and the reason code each must be rejected with."""
    rng = random.Random(seed)  # a reproducible corpus, not secrets
    corpus: list[tuple[bytes, str]] = []
    while len(corpus) < size:
        action = rng.choice(valid)
        raw = encode(action)
        document = msgspec.json.decode(raw)
        candidate = rng.choice(MUTATIONS)(rng, document, raw)
        verdict = decode(candidate, Action)
        if isinstance(verdict, Rejection):
            corpus.append((candidate, verdict.reason))
    return corpus
