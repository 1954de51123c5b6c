"""A synchronous facade for WSGI-style (threaded) app servers.

One background thread runs the asyncio :class:`Telemetry`; ``emit`` from any
thread hands the event to that loop without waiting. Action chains work per
thread (each request thread has its own context).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from spur.client.kafka import KafkaTarget
from spur.client.recording import Recording
from spur.client.telemetry import Telemetry
from spur_schemas.events import Event


class SyncTelemetry(Recording):
    def __init__(self, bootstrap: str | KafkaTarget, spool_dir: Path, **options: Any) -> None:
        self._options = options
        self._bootstrap = bootstrap
        self._spool_dir = spool_dir
        self.server = options.get("server")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._telemetry: Telemetry | None = None

    def start(self) -> None:
        self._thread.start()
        self._telemetry = asyncio.run_coroutine_threadsafe(self._open(), self._loop).result()

    async def _open(self) -> Telemetry:
        telemetry = Telemetry(self._bootstrap, self._spool_dir, **self._options)
        await telemetry.start()
        return telemetry

    def emit(self, event: Event) -> None:
        assert self._telemetry is not None, "call start() first"
        self._loop.call_soon_threadsafe(self._telemetry.emit, event)

    def close(self, drain_seconds: float = 30.0) -> None:
        if self._telemetry is not None:
            closing = self._telemetry.close(drain_seconds)
            done = asyncio.run_coroutine_threadsafe(closing, self._loop)
            done.result(drain_seconds + 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncTelemetry:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
