"""The first packet of ClickHouse's native protocol, as the local store's gate reads it.

A Hello names the client, its version, the default database, the user and
the password; the gate (spur.dev.store_gate) admits a connection by its
user, once the Hello is whole. Pure: bytes in, the user out.
"""

from __future__ import annotations

_HELLO = 0  # the client's first packet type
MAX_HELLO_BYTES = 64 * 1024


def hello_user(data: bytes) -> str | None:
    """The user a native-protocol Hello names, or None while ``data`` holds less than
    the Hello's fields up to the password. Raises ValueError when it is no Hello."""
    reader = _Reader(data)
    try:
        if reader.varint() != _HELLO:
            raise ValueError("the first packet is not a Hello")
        reader.string()  # client name
        for _ in range(3):  # version major, minor, protocol
            reader.varint()
        reader.string()  # default database
        user = reader.string().decode("utf-8", errors="replace")
        # Forwarded only whole, password included: a Hello cut after the user
        # would hold an engine thread for minutes (the engine's own timeout).
        reader.string()  # password
        return user
    except IndexError:
        return None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("a varint longer than 9 bytes")

    def string(self) -> bytes:
        size = self.varint()
        if size > MAX_HELLO_BYTES:
            raise ValueError("a string longer than a Hello holds")
        if self.at + size > len(self.data):
            raise IndexError
        value = self.data[self.at : self.at + size]
        self.at += size
        return value
