"""An action's name is checked after decoding, a batch's distinct names once:
every message gets the answer a decoder checking the pattern itself gave.

The reference below is the contract as it was: a struct whose name carries
the pattern, decoded and classified in one step. Messages mix good and bad
names (newline, upper case, spaces, non-ASCII, empty, too long) with another
field's damage placed before or after the name, so the first bad field in
the message's own order decides the rejection either way.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Literal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from spur_schemas.events import (
    Action,
    ByteCount,
    Count,
    CustomerId,
    IpText,
    Login,
    Profile,
    SessionId,
    Short,
    Timestamp,
)
from spur_schemas.jsonschema import rendered
from spur_schemas.rejections import Rejection, classify
from spur_schemas.validate import decode, decode_struct
from tests.schemas.test_validate import GOOD


class _PatternedAction(
    msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True, gc=False
):
    action_id: uuid.UUID
    # The contract's pattern as JSON Schema reads it: ``$`` is the end of the text.
    action: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_.:-]+\Z")]
    customer_id: CustomerId
    login: Login
    session_id: SessionId
    started_at: Timestamp
    ended_at: Timestamp
    bytes_in: ByteCount
    bytes_out: ByteCount
    client_ip: IpText
    parent_action_id: uuid.UUID | None = None
    data_kind: Short | None = None
    data_count: Count | None = None
    status: Literal["ok", "error"] = "ok"
    error_code: Short | None = None
    server: Short | None = None
    profile: Profile | None = None
    schema: Literal["action/1"] | None = None


_REFERENCE = msgspec.json.Decoder(_PatternedAction)


def reference(raw: bytes) -> str | tuple[str, str, str | None]:
    """What decoding with the pattern in the struct answered: accepted, or the rejection."""
    try:
        _REFERENCE.decode(raw)
    except msgspec.ValidationError as exc:
        rejection = classify(str(exc))
        return (rejection.reason, rejection.detail, rejection.field)
    except msgspec.DecodeError as exc:
        return ("not_json", str(exc), None)
    return "accepted"


def answered(raw: bytes) -> str | tuple[str, str, str | None]:
    got = decode_struct(raw, Action)
    if isinstance(got, Rejection):
        return (got.reason, got.detail, got.field)
    return "accepted"


NAMES = st.sampled_from(
    ["search.query", "a", "x" * 64, "x" * 65, "", "Search", "a b", "a\n", "\na", "ä", "a/b"]
) | st.text(alphabet="abz09_.:-A \n/é", max_size=70)
DAMAGE = st.sampled_from(
    [
        None,
        ("customer_id", 0),
        ("bytes_in", "many"),
        ("login", ""),
        ("surplus", 1),
        ("started_at", "yesterday"),
        ("status", "maybe"),
    ]
)


# The name's key given once more (JSON allows it; the last value is decoded),
# before or after the first, plainly or escaped.
KEYS = st.sampled_from(['"action"', '"\\u0061ction"', '"act\\u0069on"'])


@settings(max_examples=600, deadline=None)
@given(
    name=NAMES,
    damage=DAMAGE,
    damage_first=st.booleans(),
    again=st.none() | st.tuples(NAMES, KEYS, st.booleans()),
)
def test_a_name_checked_after_decoding_answers_as_the_pattern_in_the_struct(
    name: str,
    damage: tuple[str, object] | None,
    damage_first: bool,
    again: tuple[str, str, bool] | None,
) -> None:
    fields: dict[str, object] = {k: v for k, v in GOOD.items() if k != "action"}
    if damage is not None:
        fields.pop(damage[0], None)
        damaged = {damage[0]: damage[1]}
        fields = {**damaged, **fields} if damage_first else {**fields, **damaged}
    raw = json.dumps({"action": name, **fields}).encode()
    if again is not None:
        other, key, last = again
        member = f"{key}:{json.dumps(other)}".encode()
        raw = raw[:-1] + b"," + member + b"}" if last else b"{" + member + b"," + raw[1:]
    assert answered(raw) == reference(raw)
    assert answered(raw) == reference(raw)  # the second time the name may be remembered


def test_a_bad_name_is_rejected_after_the_same_name_was_accepted_elsewhere() -> None:
    good = json.dumps({**GOOD, "action": "export.run"}).encode()
    bad = json.dumps({**GOOD, "action": "export.run\n\n"}).encode()
    assert not isinstance(decode(good, Action), Rejection)
    rejection = decode(bad, Action)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.field) == ("bad_type", "action")
    assert "regex" in rejection.detail


def test_a_name_with_a_final_newline_is_rejected_as_the_published_schema_says() -> None:
    """Found from outside: Python's ``$`` matched before a final newline, ECMA's does not."""
    for name in ("export.run\n", "x\n"):
        rejection = decode(json.dumps({**GOOD, "action": name}).encode(), Action)
        assert isinstance(rejection, Rejection), name
        assert (rejection.reason, rejection.field) == ("bad_type", "action")
        assert rejection.detail.endswith("'^[a-z0-9_.:-]+$'")  # the contract's, as published
    published = json.loads(rendered()["action.schema.json"])
    assert published["$defs"]["Action"]["properties"]["action"]["pattern"] == "^[a-z0-9_.:-]+$"


def test_a_bad_name_given_first_is_refused_though_a_good_one_follows() -> None:
    """Found from outside: the decoded (last) name was checked, the first was not."""
    raw = json.dumps({**GOOD, "action": "doc.export"}).encode()
    twice = raw.replace(b'{"action_id"', b'{"action":"Bad Name","action_id"')
    rejection = decode(twice, Action)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.field) == ("bad_type", "action")
    escaped = raw.replace(b'{"action_id"', b'{"\\u0061ction":"Bad Name","action_id"')
    assert isinstance(decode(escaped, Action), Rejection)
    assert not isinstance(decode(raw, Action), Rejection)
