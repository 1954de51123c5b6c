"""The output messages' committed JSON Schemas are current, valid, and accept real messages."""

import datetime as dt
import json

import jsonschema
import msgspec
from hypothesis import given
from hypothesis import strategies as st

from spur_schemas.jsonschema import MESSAGE_TYPES, MESSAGES_DIR, rendered_messages
from spur_schemas.messages import CapacityMessage, DeadLetter, UsageMessage

HOUR = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
SAMPLES = {
    "usage": UsageMessage(42, HOUR, 1, 2, 3, 0, 1500, 7),
    "capacity": CapacityMessage("document.export", HOUR, 3, 1, 1, 2, 1.0, 2.0, 3.0, 4),
    "dead_letter": DeadLetter("spur.actions.v1", 0, 9, "not_json", "x", None, HOUR, "e30=", False),
}


def test_committed_message_schemas_are_current() -> None:
    for file_name, text in rendered_messages().items():
        committed = MESSAGES_DIR / file_name
        assert committed.read_text() == text, (
            f"{committed} is stale: run python -m spur_schemas.jsonschema"
        )
    assert len(list(MESSAGES_DIR.glob("*.schema.json"))) == len(MESSAGE_TYPES) == 3


def test_every_message_validates_against_its_schema() -> None:
    for name in MESSAGE_TYPES:
        schema = json.loads((MESSAGES_DIR / f"{name}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(
            json.loads(msgspec.json.encode(SAMPLES[name]))
        )


_ZONES = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=1)), dt.timezone(dt.timedelta(hours=-9, minutes=-30))]
)


@given(
    times=st.lists(
        st.datetimes(
            min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=_ZONES
        ),
        max_size=20,
    ),
    data=st.data(),
)
def test_the_keys_of_many_messages_are_each_ones_key(
    times: list[dt.datetime], data: st.DataObject
) -> None:
    # Equal instants in other zones are drawn too: their keys' text differs.
    times += [t.astimezone(dt.UTC) for t in times] + times
    usage = [UsageMessage(data.draw(st.integers(0, 3)), t, 0, 0, 0, 0, 0, 0) for t in times]
    capacity = [
        CapacityMessage(data.draw(st.sampled_from(["a.b", "c:d"])), t, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0)
        for t in times
    ]
    assert UsageMessage.keys(usage) == [m.key for m in usage]
    assert CapacityMessage.keys(capacity) == [m.key for m in capacity]
