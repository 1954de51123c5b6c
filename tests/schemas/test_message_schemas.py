"""The output messages' committed JSON Schemas are current, valid, and accept real messages."""

import datetime as dt
import json

import jsonschema
import msgspec

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
