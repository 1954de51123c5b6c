"""An append-only local file of events that could not be sent yet.

Records are JSON lines ``{"t": topic, "k": key, "v": value}``; a cursor file
holds how far the file has been re-sent. Appends are flushed to the OS at
once (a crashing app server loses nothing it spooled); the cursor is advanced
only after the broker acknowledged the records before it, so a crash while
re-sending sends some records twice, never zero times (the pipeline
deduplicates by event id).

Blocking: small synchronous file writes; called from the event loop thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from spur.client.private import private_dir, touch_private, write_private


class SpoolRecord(msgspec.Struct, frozen=True):
    t: str
    k: str | None
    v: str


@dataclass(frozen=True)
class Pending:
    record: SpoolRecord
    end: int  # file offset just after this record


class Spool:
    def __init__(self, directory: Path) -> None:
        private_dir(directory)  # unsent events hold personal data
        self.path = directory / "events.jsonl"
        self._cursor_path = directory / "events.cursor"
        touch_private(self.path)
        self._file = self.path.open("ab")
        self._decoder = msgspec.json.Decoder(SpoolRecord)

    def append(self, topic: str, key: bytes | None, value: bytes) -> None:
        record = SpoolRecord(topic, key.decode() if key is not None else None, value.decode())
        self._file.write(msgspec.json.encode(record) + b"\n")
        self._file.flush()

    @property
    def cursor(self) -> int:
        try:
            return int(self._cursor_path.read_text() or 0)
        except FileNotFoundError:
            return 0

    def pending_bytes(self) -> int:
        return max(0, self.path.stat().st_size - self.cursor)

    def read_pending(self, limit: int) -> Iterator[Pending]:
        """Up to ``limit`` records after the cursor, in the order they were spooled."""
        with self.path.open("rb") as spooled:
            spooled.seek(self.cursor)
            for _ in range(limit):
                line = spooled.readline()
                if not line.endswith(b"\n"):
                    return  # end of file, or a record still being written
                yield Pending(self._decoder.decode(line), spooled.tell())

    def advance(self, end: int) -> None:
        """Mark everything before ``end`` as sent; empty the file once all is sent."""
        if end >= self.path.stat().st_size:
            self._file.truncate(0)
            write_private(self._cursor_path, "0")
        else:
            tmp = self._cursor_path.with_suffix(".tmp")
            write_private(tmp, str(end))
            tmp.replace(self._cursor_path)

    def close(self) -> None:
        self._file.close()
