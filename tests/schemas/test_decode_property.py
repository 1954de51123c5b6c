"""No input crashes the decoder, and every rejection says why."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from spur_schemas.events import Action, Consent, Event, FormSubmission, WebRequest
from spur_schemas.rejections import Rejection
from spur_schemas.validate import REASONS, decode
from tests.schemas.test_validate import GOOD

KINDS = st.sampled_from([Action, WebRequest, FormSubmission, Consent])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def assert_decoded_or_rejected(raw: bytes, kind: type[Event]) -> None:
    result: object = decode(raw, kind)
    if isinstance(result, Rejection):
        assert result.reason in REASONS
        assert result.detail
    else:
        assert isinstance(result, kind)


@given(raw=st.binary(max_size=512), kind=KINDS)
@settings(max_examples=500)
def test_arbitrary_bytes(raw: bytes, kind: type[Event]) -> None:
    assert_decoded_or_rejected(raw, kind)


@given(value=JSON_VALUES, kind=KINDS)
@settings(max_examples=500)
def test_arbitrary_json(value: object, kind: type[Event]) -> None:
    assert_decoded_or_rejected(json.dumps(value).encode(), kind)


@given(field=st.sampled_from(sorted(GOOD)), value=JSON_VALUES)
@settings(max_examples=500)
def test_an_action_with_one_field_replaced(field: str, value: object) -> None:
    assert_decoded_or_rejected(json.dumps({**GOOD, field: value}).encode(), Action)
