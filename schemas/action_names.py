"""An action's name checked against the contract's pattern after decoding.

msgspec checks a ``pattern`` by calling Python's ``re`` for every message
(0.7 µs of the 2.5 an action's decode took); a batch repeats a few dozen
names. So the contract's struct checks only the name's length and
:func:`well_named` the pattern, each distinct name once. A message it
refuses, or one that may give the name more than once (:func:`named_once`),
is decoded again by :func:`with_strict_name`'s struct, which judges every
name given and words the rejection as checking during decoding did (the
first bad field in the message's own order).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from spur_schemas.events import ACTION_NAME_CHECK, StrictActionName

# msgspec's own test is ``search``; the pattern is anchored at both ends.
_MATCHES = re.compile(ACTION_NAME_CHECK).search
_KNOWN_GOOD: set[str] = set()
_REMEMBERED = 10_000  # names; forgotten all at once beyond (never grows unbounded)


def well_named(name: str) -> bool:
    """Whether ``name`` matches the contract's pattern for action names."""
    if name in _KNOWN_GOOD:
        return True
    if _MATCHES(name) is None:
        return False
    if len(_KNOWN_GOOD) >= _REMEMBERED:
        _KNOWN_GOOD.clear()
    _KNOWN_GOOD.add(name)
    return True


def named_once(raw: bytes) -> bool:
    """Whether ``raw`` gives the action's name once, so the decoded name is the only one.

    A key given twice keeps its last value when decoded, while checking during
    decoding refused a bad first one; an escaped key (``"\\u0061ction"``) is
    the same key. So a message with a backslash anywhere, or with ``"action"``
    other than once, has its names checked by the strict decoder (rare: a value
    that reads "action", text escaped by its producer).
    """
    return b"\\" not in raw and raw.count(b'"action"') == 1


def with_strict_name(kind: type[Any]) -> type[Any]:
    """``kind`` (the contract's Action) with its name's pattern checked by msgspec."""
    fields = [
        (f.name, StrictActionName if f.name == "action" else f.type)
        if f.required
        else (f.name, f.type, f.default)
        for f in msgspec.structs.fields(kind)
    ]
    config = kind.__struct_config__  # the contract's options (spur_schemas.events._Contract)
    return msgspec.defstruct(
        kind.__name__,
        fields,
        forbid_unknown_fields=config.forbid_unknown_fields,
        frozen=config.frozen,
        omit_defaults=config.omit_defaults,
        gc=config.gc,
    )
