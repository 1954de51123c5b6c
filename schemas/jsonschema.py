"""JSON Schema files for producers in other languages, generated from the structs.

``python -m spur_schemas.jsonschema`` rewrites ``schemas/json/*.schema.json`` (the
input events) and ``schemas/json/messages/*.schema.json`` (the worker's
output messages, for consumers); a test fails when the committed files
differ from what the structs generate.
What JSON Schema cannot say (``ended_at >= started_at``) is in each schema's
description and enforced by the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from spur_schemas.events import Action, Consent, Event, FormSubmission, WebRequest
from spur_schemas.messages import CapacityMessage, DeadLetter, UsageMessage
from spur_schemas.patterns import as_published

JSON_DIR = Path(__file__).with_name("json")
MESSAGES_DIR = JSON_DIR / "messages"
EVENT_TYPES: dict[str, type[Event]] = {
    "action": Action,
    "web_request": WebRequest,
    "form_submission": FormSubmission,
    "consent": Consent,
}
MESSAGE_TYPES: dict[str, type[msgspec.Struct]] = {
    "usage": UsageMessage,
    "capacity": CapacityMessage,
    "dead_letter": DeadLetter,
}


def schema_for(name: str, kind: type[msgspec.Struct], folder: str = "") -> dict[str, Any]:
    generated = _published_patterns(msgspec.json.schema(kind))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://spur.invalid/schemas/{folder}{name}.schema.json",
        **generated,
    }


def _published_patterns(schema: Any) -> Any:
    """``schema`` with each pattern as the contract states it (spur_schemas.patterns)."""
    if isinstance(schema, dict):
        return {
            key: as_published(value)
            if key == "pattern" and isinstance(value, str)
            else _published_patterns(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_published_patterns(item) for item in schema]
    return schema


def _render(types: dict[str, type[Any]], folder: str = "") -> dict[str, str]:
    return {
        f"{name}.schema.json": json.dumps(schema_for(name, kind, folder), indent=2, sort_keys=True)
        + "\n"
        for name, kind in types.items()
    }


def rendered() -> dict[str, str]:
    """File name -> file text for every event type."""
    return _render(EVENT_TYPES)


def rendered_messages() -> dict[str, str]:
    """File name -> file text for every output message type."""
    return _render(MESSAGE_TYPES, "messages/")


def main() -> None:
    for folder, texts in ((JSON_DIR, rendered()), (MESSAGES_DIR, rendered_messages())):
        folder.mkdir(exist_ok=True)
        for file_name, text in texts.items():
            (folder / file_name).write_text(text)
            print(f"wrote {folder / file_name}")  # a generator script reports


if __name__ == "__main__":
    main()
