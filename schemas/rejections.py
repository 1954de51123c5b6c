"""Why a message was refused: :class:`Rejection`, worded from msgspec's errors.

A rejection carries a stable reason code (spur_schemas.validate.REASONS) and
a detail naming the field, never its content, so a dead letter says exactly
what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from spur_schemas.patterns import worded_as_published


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an input was refused: ``reason`` is a stable code, ``detail`` human text."""

    reason: str
    detail: str
    field: str | None = None


_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_QUOTED = re.compile(r"`(?P<name>[^`]+)`")
# msgspec quotes the offending value; a detail names fields, never their content.
_ENUM_VALUE = re.compile(r"^Invalid enum value .*", re.DOTALL)


def refusal(decoder: msgspec.json.Decoder[Any], raw: bytes) -> Rejection | None:
    """Why ``decoder`` (the contract's) refuses ``raw``; None if it accepts it."""
    try:
        decoder.decode(raw)
    except msgspec.ValidationError as exc:
        # Bytes that are no UTF-8 inside a UUID or a time make a ValidationError;
        # the line is still no JSON, whatever field the decoder noticed it in.
        why = not_utf8(raw)
        return Rejection("not_json", why) if why else classify(str(exc))
    except msgspec.DecodeError as exc:
        return Rejection("not_json", not_utf8(raw) or str(exc))
    except UnicodeDecodeError as exc:  # invalid UTF-8 inside a string (found by fuzzing)
        return Rejection("not_json", f"not UTF-8: {exc.reason} at byte {exc.start}")
    return None


def not_utf8(raw: bytes) -> str | None:
    """Why ``raw`` is not UTF-8, or None: the likelier cause of a line that is no JSON.

    Checked only after decoding failed: valid messages pay nothing.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8: {exc.reason} at byte {exc.start}"
    return None


# A key the contract does not know may itself be content ("message: Hi, I am
# John ...", a login): a rejection and a dead letter name it only when it looks
# like a field name (found from outside: form content arrived as a key).
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
WITHHELD_FIELD_NAME = "[unknown field]"


def shown_field_name(name: str) -> str:
    """``name`` where it looks like a field's name, else :data:`WITHHELD_FIELD_NAME`."""
    return name if _FIELD_NAME.fullmatch(name) else WITHHELD_FIELD_NAME


def classify(message: str) -> Rejection:
    """Map a msgspec validation message onto a reason code and the offending field."""
    match = _AT.search(message)
    path = match.group("path") if match else ""
    text = message[: match.start()] if match else message
    text = worded_as_published(_ENUM_VALUE.sub("Invalid enum value", text))
    field = path or None
    if text.startswith("Expected `object`") and not path:
        return Rejection("not_object", text)
    if text.startswith("Object contains unknown field"):
        name = _QUOTED.search(text)
        unknown = shown_field_name(name.group("name") if name else "?")
        field = f"{path}.{unknown}" if path else unknown
        return Rejection("unknown_field", f"field {field!r} is not in the contract", field)
    if text.startswith("Object missing required field"):
        name = _QUOTED.search(text)
        missing = name.group("name") if name else "?"
        field = f"{path}.{missing}" if path else missing
        return Rejection("missing_field", f"required field {field!r} is missing", field)
    if "RFC3339" in text or "datetime" in text:
        return Rejection("bad_timestamp", f"{field}: {text}", field)
    if any(word in text for word in (">=", "<=", "length", " > ", " < ")):
        return Rejection("out_of_range", f"{field}: {text}", field)
    return Rejection("bad_type", f"{field}: {text}" if field else text, field)
