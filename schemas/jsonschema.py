"""JSON Schema files for producers in other languages, generated from the structs.

``python -m schemas.jsonschema`` rewrites ``schemas/json/*.schema.json``; a
test fails when the committed files differ from what the structs generate.
What JSON Schema cannot say (``ended_at >= started_at``) is in each schema's
description and enforced by the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from schemas.events import Action, Consent, Event, FormSubmission, WebRequest

JSON_DIR = Path(__file__).with_name("json")
EVENT_TYPES: dict[str, type[Event]] = {
    "action": Action,
    "web_request": WebRequest,
    "form_submission": FormSubmission,
    "consent": Consent,
}


def schema_for(name: str, kind: type[Event]) -> dict[str, Any]:
    generated = msgspec.json.schema(kind)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://spur.invalid/schemas/{name}.schema.json",
        **generated,
    }


def rendered() -> dict[str, str]:
    """File name -> file text for every event type."""
    return {
        f"{name}.schema.json": json.dumps(schema_for(name, kind), indent=2, sort_keys=True) + "\n"
        for name, kind in EVENT_TYPES.items()
    }


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for file_name, text in rendered().items():
        (JSON_DIR / file_name).write_text(text)
        print(f"wrote {JSON_DIR / file_name}")  # a generator script reports


if __name__ == "__main__":
    main()
