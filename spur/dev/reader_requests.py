"""What a reader may send the local store after its Hello (spur.dev.store_gate).

The engine takes a request's bytes before any limit of the query counts
(measured with a reader's password: client fields of 150 MB each were
taken; a 500 KB query parameter put into 1,000 placeholders of an 11 KB
query took the engine to 8 GB against a 1 GiB limit, out of the read
watch's sight for 6 s; a 1 MB query packet held unfinished cost 1.7 MB
for the server's 300 s). So the gate reads every packet of a reader's
connection whole before the engine gets a byte of it, and refuses, with
the reason in an exception packet the client shows:

- a protocol revision this reading does not know (below settings sent as
  text, or newer than clickhouse-driver's: later ones add fields);
- a packet over :data:`READER_REQUEST_BYTES`;
- a query with parameters, with compression, from a client that is not
  TCP, that is not an initial query asking for a complete result, or with
  a setting but ``max_execution_time`` (a reader's profile refuses the
  others anyway; Grafana sends that one);
- data (external tables) other than the empty block that ends a query's;
- any packet but Query, Data, Cancel and Ping.

The fields follow ClickHouse's TCPHandler::receiveQuery and
ClientInfo::read for these revisions. Pure: bytes in, whole packets (or a
refusal) out.
"""

from __future__ import annotations

import struct

from spur.dev.store_hello import Reader
from spur_sinks.store_errors import ACCESS_DENIED

READER_MIN_REVISION = 54429  # settings sent as text
READER_MAX_REVISION = 54468  # clickhouse-driver's; Grafana's clickhouse-go sends less
# A reader's request: a query of at most the server's 256 KiB max_query_size,
# its settings and client fields. A packet takes this much of the gate's memory
# while it arrives, and none of the engine's.
READER_REQUEST_BYTES = 1024 * 1024

_ADDENDUM_REVISION = 54458  # a quota key follows the Hello
_QUERY, _DATA, _CANCEL, _PING = 1, 2, 3, 4
_TCP = 1
_INITIAL_QUERY = 1
_COMPLETE = 2  # the processing stage a client asks for
_SETTINGS_ALLOWED = frozenset({b"max_execution_time"})
_SERVER_EXCEPTION = 2


class Refused(ValueError):
    """A reader's packet the engine must not get; the message says why."""

    def __init__(self, why: str, code: int = ACCESS_DENIED) -> None:
        super().__init__(why)
        self.code = code


class ReaderRequests:
    """A reader's connection after its Hello: whole packets out, or :class:`Refused`."""

    def __init__(self, revision: int) -> None:
        if not READER_MIN_REVISION <= revision <= READER_MAX_REVISION:
            raise Refused(
                f"protocol revision {revision} (the local store takes {READER_MIN_REVISION}"
                f" to {READER_MAX_REVISION} from readers)"
            )
        self.revision = revision
        self._addendum = revision >= _ADDENDUM_REVISION
        # Appended in place and read where it is: a packet dribbled in a byte at
        # a time, copied or read again from its start each time, took the gate's
        # CPU quadratically (helper-28: 16 connections, the store's server at
        # 72% of a core and commands 10x slower).
        self._pending = bytearray()
        self._wanted = 0  # bytes the packet begun needs at least before it is read again

    @property
    def partial(self) -> bool:
        """Whether a packet has begun and not ended."""
        return bool(self._pending)

    def feed(self, data: bytes) -> bytes:
        """The packets ``data`` completes, whole, to forward; the rest is kept."""
        self._pending += data
        if len(self._pending) < self._wanted:  # the packet begun cannot be whole yet
            if len(self._pending) > READER_REQUEST_BYTES:
                raise Refused(f"a packet of over {READER_REQUEST_BYTES:,} bytes")
            return b""
        whole = 0
        while whole < len(self._pending) and (end := self._packet_end(whole)) is not None:
            whole = end
        if len(self._pending) - whole > READER_REQUEST_BYTES:
            raise Refused(f"a packet of over {READER_REQUEST_BYTES:,} bytes")
        forwarded = bytes(self._pending[:whole])
        del self._pending[:whole]
        self._wanted = max(0, self._wanted - whole)
        return forwarded

    def _packet_end(self, start: int) -> int | None:
        """Where the packet at ``start`` ends; None while it has not arrived whole."""
        reader = Reader(self._pending, start)
        try:
            if self._addendum:
                reader.string()  # quota key
            else:
                _packet(reader, self.revision)
        except IndexError:
            self._wanted = reader.wanted
            return None
        except Refused:
            raise
        except ValueError as exc:  # a string or number longer than any of a reader's
            raise Refused(str(exc)) from None
        self._addendum = False
        self._wanted = 0
        return reader.at


def _packet(reader: Reader, revision: int) -> None:
    kind = reader.varint()
    if kind == _QUERY:
        _query(reader, revision)
    elif kind == _DATA:
        _empty_data(reader)
    elif kind not in (_CANCEL, _PING):
        raise Refused(f"a packet of type {kind} (readers send queries, cancels and pings)")


def _query(reader: Reader, revision: int) -> None:
    reader.string()  # query id
    if (kind := reader.byte()) != _INITIAL_QUERY:  # forwarded queries are servers' business
        raise Refused(f"query kind {kind} (readers send initial queries)")
    _client_info(reader, revision)
    while name := reader.string():  # settings, as text, until an empty name
        reader.varint()  # flags
        reader.string()  # value
        if name not in _SETTINGS_ALLOWED:
            raise Refused(f"setting {name[:64]!r} (a reader may set only max_execution_time)")
    if revision >= 54441:
        reader.string()  # interserver secret
    if (stage := reader.varint()) != _COMPLETE:
        raise Refused(f"processing stage {stage} (readers ask for complete results)")
    if reader.varint():
        raise Refused("compression (readers send their queries uncompressed)")
    reader.string(READER_REQUEST_BYTES)  # the query
    if revision >= 54459 and reader.string():  # the first parameter's name
        raise Refused("query parameters (write the values into the query)")


def _client_info(reader: Reader, revision: int) -> None:
    for _ in range(3):  # initial user, query id, address
        reader.string()
    if revision >= 54449:
        reader.skip(8)  # initial query's start
    if reader.byte() != _TCP:
        raise Refused("client information of an interface other than TCP")
    for _ in range(3):  # os user, host name, client name
        reader.string()
    for _ in range(3):  # client version major, minor, revision
        reader.varint()
    reader.string()  # quota key
    if revision >= 54448:
        reader.varint()  # distributed depth
    reader.varint()  # version patch
    if revision >= 54442 and reader.byte():  # an OpenTelemetry trace
        reader.skip(16 + 8)  # trace id, span id
        reader.string()  # trace state
        reader.skip(1)  # flags
    if revision >= 54453:
        for _ in range(3):  # parallel replicas
            reader.varint()


def _empty_data(reader: Reader) -> None:
    reader.string()  # the external table's name
    while field := reader.varint():  # block info, until field 0
        if field == 1:
            reader.skip(1)  # is overflows
        elif field == 2:
            reader.skip(4)  # bucket number
        else:
            raise Refused(f"block information field {field}")
    columns, rows = reader.varint(), reader.varint()
    if columns or rows:
        raise Refused("data with a query (readers send no external tables)")


def refusal_packet(code: int, message: str) -> bytes:
    """A server exception packet: what a client shows for a refusal."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return _varint(len(raw)) + raw

    return (
        _varint(_SERVER_EXCEPTION) + struct.pack("<i", code) + text("DB::Exception")
        + text(message) + text("") + b"\0"
    )  # fmt: skip


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
