"""The contract's string patterns, as JSON Schema (ECMA) reads them, checked by Python.

In a published pattern ``$`` is the end of the text. Python's ``$`` also
matches before a final newline, so "export\\n" matched ``^[a-z0-9_.:-]+$``
when Python checked it. What Python checks ends in ``\\Z`` instead; the
published schema and every rejection's wording show the contract's ``$``.
"""

from __future__ import annotations

import re

ACTION_NAME = r"^[a-z0-9_.:-]+$"
SCREEN_RESOLUTION = r"^[0-9]{1,5}x[0-9]{1,5}$"

_PYTHON_END = r"\Z"
# As msgspec quotes a pattern in its messages (a repr: the backslash doubled).
_QUOTED_PYTHON_END = re.compile(r"\\\\Z'")


def checked_by_python(pattern: str) -> str:
    """The contract's ``pattern`` for Python's ``re``: its final ``$`` as ``\\Z``."""
    return pattern.removesuffix("$") + _PYTHON_END


def as_published(pattern: str) -> str:
    """A pattern :func:`checked_by_python` made, as the contract states it."""
    return pattern.removesuffix(_PYTHON_END) + "$" if pattern.endswith(_PYTHON_END) else pattern


def worded_as_published(message: str) -> str:
    """A msgspec message quoting a pattern Python checked, quoting the contract's instead."""
    return _QUOTED_PYTHON_END.sub("$'", message)
