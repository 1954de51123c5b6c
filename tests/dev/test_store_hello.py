"""The gate's reading of a Hello (spur.dev.store_hello.read_hello): pure, no store."""

from __future__ import annotations

import pytest

from spur.dev.store_hello import Hello, read_hello


def varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([byte])
        out += bytes([byte | 0x80])


def text(value: str) -> bytes:
    raw = value.encode()
    return varint(len(raw)) + raw


def hello(user: str, password: str = "secret", revision: int = 54429) -> bytes:
    head = varint(0) + text("client") + varint(23) + varint(8) + varint(revision) + text("")
    return head + text(user) + text(password)


def test_a_whole_hello_names_its_user() -> None:
    assert read_hello(hello("engineer")) == Hello("engineer", 54429, len(hello("engineer")))
    assert getattr(read_hello(hello("default", "") + b"more"), "user", None) == "default"


def test_a_hello_is_decided_only_with_its_password() -> None:
    # Cut after the user: forwarding it would let the engine hold a thread for
    # minutes waiting for the rest (the way to fill its connections).
    whole = hello("engineer")
    for cut in range(len(whole)):
        assert read_hello(whole[:cut]) is None, cut


def test_what_is_no_hello_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Hello"):
        read_hello(varint(1) + text("SELECT 1"))
    with pytest.raises(ValueError, match="at most"):
        read_hello(varint(0) + varint(2**40))
