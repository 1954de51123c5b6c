"""Stored text made inert for a terminal: no markup, no escape sequences, no reordering.

Anything spur prints for a person (tables, trace trees, titles) may hold
bytes an app server, a producer in another language or an attacker put in
an event: a session id ``[/x]``, a user agent ``[link=https://...]``, an
``ESC ] 8`` hyperlink or an ``ESC [ 2K`` that erases the line above, a
right-to-left override that shows ``exe.txt`` as ``txt.exe``. The terminal
renderer (rich) would parse the first two as markup (crashing on a closing
tag it did not open) and passes the others to the terminal unchanged.

So every value and name is shown as a :class:`rich.text.Text`, which rich
never parses, after :func:`visible` has replaced what a terminal would act
on with its escape written out (``\\x1b``, ``\\u202e``). Machine formats
(JSON, CSV to a file or pipe) keep the bytes as stored: JSON escapes
control characters itself.

Blocking: nothing. Raises nothing.
"""

from __future__ import annotations

import re

from rich.text import Text

# DEL, C1 controls (8-bit CSI and OSC), and the Unicode characters that reorder
# or hide text: bidi embeddings/overrides/isolates, zero-width joiners and marks.
_BEYOND_C0 = "\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
# With the C0 controls except tab and newline (a cell may hold lines).
_ACTED_ON = re.compile(f"[\x00-\x08\x0b-\x1f{_BEYOND_C0}]")
# With every C0 control: for what must stay on its line (a trace tree's labels:
# a login holding a newline and a drawn branch faked an action below it).
_ACTED_ON_IN_A_LINE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")


def _written_out(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every character a terminal would act on written out as its escape."""
    return _ACTED_ON.sub(_written_out, text)


def inert(text: object, style: str = "") -> Text:
    """A value for rich: shown as :func:`visible` text, never parsed as markup."""
    return Text(visible(str(text)), style=style)


def inert_line(text: object, style: str = "") -> Text:
    """As :func:`inert`, with tabs and newlines written out too: it stays one line."""
    return Text(_ACTED_ON_IN_A_LINE.sub(_written_out, str(text)), style=style)
