"""The committed JSON Schemas are valid, current, and agree with the decoder."""

import json

import jsonschema
import pytest

from spur_schemas.jsonschema import EVENT_TYPES, JSON_DIR, rendered
from tests.schemas.test_validate import GOOD


def test_committed_schemas_are_current() -> None:
    for file_name, text in rendered().items():
        committed = JSON_DIR / file_name
        assert committed.read_text() == text, (
            f"{committed} is stale: run `python -m spur_schemas.jsonschema` and commit"
        )
    assert len(list(JSON_DIR.glob("*.schema.json"))) == len(EVENT_TYPES) == 4


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_each_schema_is_valid_json_schema(name: str) -> None:
    schema = json.loads((JSON_DIR / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_action_schema_accepts_a_valid_action_and_refuses_content() -> None:
    schema = json.loads((JSON_DIR / "action.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(GOOD)
    errors = list(validator.iter_errors({**GOOD, "document_title": "Q3 salaries"}))
    assert any("document_title" in error.message for error in errors)
