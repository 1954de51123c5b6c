"""The gate's reading of a reader's packets (spur.dev.reader_requests): pure, no store."""

from __future__ import annotations

import struct

import pytest

from spur.dev.reader_requests import READER_MAX_REVISION, ReaderRequests, Refused
from tests.dev.test_store_hello import text, varint

REVISION = READER_MAX_REVISION


def query(  # noqa: PLR0917 - each a field of the packet, defaulted
    sql: str = "SELECT 1",
    settings: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    os_user: str = "me",
    compression: int = 0,
    kind: int = 1,
    stage: int = 2,
) -> bytes:
    """A Query packet laid out as clickhouse-driver writes it at REVISION."""
    info = client_info(kind, os_user)
    listed = b"".join(text(k) + varint(0) + text(v) for k, v in (settings or {}).items())
    bound = b"".join(text(k) + varint(2) + text(v) for k, v in (params or {}).items())
    return (
        varint(1) + text("id") + info + listed + text("") + text("")  # settings end, secret
        + varint(stage) + varint(compression) + text(sql) + bound + text("")
    )  # fmt: skip


def client_info(kind: int = 1, os_user: str = "me") -> bytes:
    info = bytes([kind]) + text("") + text("") + text("0.0.0.0:0") + struct.pack("<Q", 0)
    info += b"\x01" + text(os_user) + text("host") + text("client")
    info += varint(20) + varint(10) + varint(REVISION) + text("")  # version, quota key
    info += varint(0) + varint(2)  # distributed depth, version patch
    return info + b"\x00" + varint(0) * 3  # no trace; parallel replicas


EMPTY_DATA = varint(2) + text("") + varint(1) + b"\0" + varint(2) + b"\xff" * 4 + varint(0)
EMPTY_DATA += varint(0) + varint(0)
ADDENDUM = text("")  # the quota key after the Hello
PING = varint(4)


def test_whole_packets_pass_however_they_are_cut() -> None:
    stream = ADDENDUM + query(settings={"max_execution_time": "5"}) + EMPTY_DATA + PING
    requests = ReaderRequests(REVISION)
    forwarded = b""
    for at in range(len(stream)):
        forwarded += requests.feed(stream[at : at + 1])
        # Only whole packets go on: the engine never holds a packet begun.
        assert stream.startswith(forwarded)
    assert forwarded == stream
    assert not requests.partial


@pytest.mark.parametrize(
    ("packet", "why"),
    [
        (query(params={"p": "x"}), "query parameters"),
        (query(settings={"max_memory_usage": "0"}), "max_memory_usage"),
        (query(compression=1), "compression"),
        (query(kind=2), "query kind 2"),
        (query(stage=0), "processing stage 0"),
        (query(os_user="u" * 70_000), "at most"),
        (varint(2) + text("t") + varint(0) + varint(1) + varint(1), "external tables"),
        (varint(7), "type 7"),
    ],
)
def test_what_a_reader_has_no_need_to_send_is_refused(packet: bytes, why: str) -> None:
    requests = ReaderRequests(REVISION)
    requests.feed(ADDENDUM)
    with pytest.raises(Refused, match=why):
        requests.feed(packet)


def test_a_packet_is_refused_once_it_passes_the_cap_unfinished() -> None:
    requests = ReaderRequests(REVISION)
    requests.feed(ADDENDUM)
    # Every field within its own bound, the packet not: 20 settings of 60 KB.
    many = varint(1) + text("id") + client_info()
    many += (text("max_execution_time") + varint(0) + text("9" * 60_000)) * 20

    def feed_in_chunks() -> None:
        for at in range(0, len(many), 256 * 1024):
            assert requests.feed(many[at : at + 256 * 1024]) == b""

    with pytest.raises(Refused, match="over 1,048,576 bytes"):
        feed_in_chunks()


def test_revisions_this_reading_does_not_know_are_refused() -> None:
    with pytest.raises(Refused, match="revision"):
        ReaderRequests(REVISION + 1)
    with pytest.raises(Refused, match="revision"):
        ReaderRequests(54428)
