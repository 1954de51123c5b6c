"""The worker's HTTP endpoint: ``/metrics`` for Prometheus, nothing else.

Binds 127.0.0.1 unless ``SPUR_WORKER_API_HOST`` says otherwise (a
Prometheus on another host). Reads no request body: any method but GET/HEAD
is answered 405 (the connection closed, the body unread, whatever its
Content-Length), any other path 404, a malformed request 400, an oversized
one 414/431, a silent client dropped after 10 s; never with a traceback.
The endpoint's
address is written to ``<state_dir>/worker.json`` (mode 0600) for tools on
this machine (the demo, benchmarks).

Blocking: serves in a daemon thread; each request in its own thread. A
scrape first runs what :meth:`WorkerAPI.measure_on_scrape` was given (the
worker's consumer lag: one round trip to the broker).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spur.client.private import private_dir, write_private
from spur.settings import SettingsError

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    # A client that sends nothing holds a thread at most this long. The
    # stdlib bounds the rest: a request line or header line over 64 KiB is
    # answered 414/431, more than 100 headers 431, a malformed line 400.
    timeout = 10
    error_content_type = "text/plain"
    default_request_version = "HTTP/1.0"  # errors get a status line, even to garbage
    error_message_format = "%(code)d %(message)s\n"

    def log_message(self, format: str, *args: Any) -> None:  # stdlib name
        return  # requests are not worth a log line each

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._reply(404, b"not found: the worker serves /metrics\n", "text/plain")
            return
        server = self.server
        if isinstance(server, _Server) and server.before_scrape is not None:
            try:
                server.before_scrape()
            except Exception:  # a failed measurement must not fail the scrape
                log.exception("measuring before a scrape failed")
        self._reply(200, generate_latest(), CONTENT_TYPE_LATEST)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _refuse(self) -> None:
        self.close_connection = True
        self._reply(405, b"method not allowed: GET /metrics\n", "text/plain")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    before_scrape: Callable[[], None] | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hangs up mid-request is no error of ours


class WorkerAPI:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        """Bind ``host:port`` (0: a free port); a port in use is a :class:`SettingsError`."""
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise SettingsError(
                f"SPUR_METRICS_PORT: port {port} ({host}) is in use, perhaps by another spur "
                "worker on this host. Give each worker on a host its own port (e.g. "
                f"SPUR_METRICS_PORT={port + 1}) and Prometheus a target for it, or 0 for a "
                "free one (logged and written to worker.json; Prometheus cannot follow it)"
            ) from None
        self._server.timeout = 10
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def measure_on_scrape(self, measure: Callable[[], None]) -> None:
        """Call ``measure`` before each ``/metrics`` answer (gauges that must be current)."""
        self._server.before_scrape = measure

    @property
    def url(self) -> str:
        # Clients on this machine always reach it on loopback.
        return f"http://127.0.0.1:{self.port}"

    def start(self, state_file: Path) -> None:
        self._thread.start()
        private_dir(state_file.parent)
        write_private(
            state_file, json.dumps({"pid": os.getpid(), "metrics": f"{self.url}/metrics"})
        )

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
