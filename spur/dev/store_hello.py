"""The first packet of ClickHouse's native protocol, as the local store's gate reads it.

A Hello names the client, its version, the default database, the user and
the password; the gate (spur.dev.store_gate) admits a connection by its
user, once the Hello is whole. Pure: bytes in, the user out.
"""

from __future__ import annotations

from dataclasses import dataclass

_HELLO = 0  # the client's first packet type
MAX_HELLO_BYTES = 64 * 1024


@dataclass(frozen=True)
class Hello:
    user: str
    revision: int  # the client's protocol revision: what the packets after it hold
    size: int  # its bytes; a client may send more behind it


def read_hello(data: bytes) -> Hello | None:
    """The Hello that ``data`` begins with, or None while it holds less than the
    Hello's fields up to the password. Raises ValueError when it is no Hello."""
    reader = Reader(data)
    try:
        if reader.varint() != _HELLO:
            raise ValueError("the first packet is not a Hello")
        reader.string()  # client name
        reader.varint()  # version major
        reader.varint()  # version minor
        revision = reader.varint()
        reader.string()  # default database
        user = reader.string().decode("utf-8", errors="replace")
        # Forwarded only whole, password included: a Hello cut after the user
        # would hold an engine thread for minutes (the engine's own timeout).
        reader.string()  # password
        return Hello(user, revision, reader.at)
    except IndexError:
        return None


class Reader:
    """Native-protocol fields from ``data``; IndexError where it ends too soon, and
    then ``wanted`` is how long ``data`` must be at least to go on."""

    def __init__(self, data: bytes | bytearray, at: int = 0) -> None:
        self.data = data
        self.at = at
        self.wanted = 0

    def _short(self, end: int) -> IndexError:
        self.wanted = max(end, len(self.data) + 1)
        return IndexError(end)

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise self._short(self.at + 1)
        value = self.data[self.at]
        self.at += 1
        return value

    def skip(self, size: int) -> None:
        if self.at + size > len(self.data):
            raise self._short(self.at + size)
        self.at += size

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("a varint longer than 9 bytes")

    def string(self, limit: int = MAX_HELLO_BYTES) -> bytes:
        size = self.varint()
        if size > limit:
            raise ValueError(f"a string of {size:,} bytes (at most {limit:,} here)")
        if self.at + size > len(self.data):
            raise self._short(self.at + size)
        value = bytes(self.data[self.at : self.at + size])
        self.at += size
        return value
