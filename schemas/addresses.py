"""Whether a client address is an IP address (the events' ``client_ip``)."""

from __future__ import annotations

import socket


def is_ip_address(text: str) -> bool:
    """IPv4 dotted quad or IPv6 text.

    Remembered: a batch holds few distinct addresses (a session's actions
    come from one), and a lookup costs a tenth of the parse.
    """
    known = _IP_ANSWERS.get(text)
    if known is None:
        if len(_IP_ANSWERS) > 100_000:
            _IP_ANSWERS.clear()
        known = _IP_ANSWERS[text] = _parses_as_ip(text)
    return known


_IP_ANSWERS: dict[str, bool] = {}


def _parses_as_ip(text: str) -> bool:
    """The C parser: ~20x faster than ``ipaddress``."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except (OSError, ValueError):  # ValueError: an embedded NUL (found by hypothesis)
            continue
        return True
    return False
