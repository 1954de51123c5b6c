"""The worker's loopback HTTP endpoint: ``/metrics`` and read-only ``/query``.

In embedded mode the worker owns the store directory (chdb locks it), so the
read commands (``spur billing``, ``query``, ...) ask the running worker
instead. ``/query`` runs on a second, read-only session of the same store;
it requires the bearer token the worker writes, with mode 0600, into
``<state_dir>/worker.json``: only users who can read the worker's state can
query through it. Binds 127.0.0.1 unless ``SPUR_WORKER_API_HOST`` says
otherwise (a Prometheus on another host).

Blocking: serves in a daemon thread; each request in its own thread.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sinks.store import Store, StoreError

MAX_SQL_BYTES = 1024 * 1024


class WorkerAPI:
    def __init__(self, reader: Store, port: int, host: str = "127.0.0.1") -> None:
        self.token = secrets.token_urlsafe(32)
        self._reader = reader
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # stdlib name
                return  # requests are not worth a log line each

            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self._reply(404, b"not found\n", "text/plain")
                    return
                self._reply(200, generate_latest(), CONTENT_TYPE_LATEST)

            def do_POST(self) -> None:
                if self.path != "/query":
                    self._reply(404, b"not found\n", "text/plain")
                    return
                given = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if not hmac.compare_digest(given, api.token):
                    self._reply(401, b'{"error": "bad token"}', "application/json")
                    return
                length = int(self.headers.get("Content-Length", "0"))
                if length > MAX_SQL_BYTES:
                    self._reply(413, b'{"error": "query too large"}', "application/json")
                    return
                request = json.loads(self.rfile.read(length) or b"{}")
                keys = [str(key) for key in request.get("keys", [])]
                try:
                    rows = api._reader.query(str(request.get("sql", "")), keys)
                except StoreError as exc:
                    body = json.dumps({"error": str(exc), "code": exc.code}).encode()
                    self._reply(400, body, "application/json")
                    return
                self._reply(200, json.dumps(rows, default=str).encode(), "application/json")

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = int(self._server.server_address[1])
        # Clients on this machine always reach it on loopback.
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, state_file: Path) -> None:
        self._thread.start()
        state_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(
                {"pid": os.getpid(), "url": self.url, "metrics": f"{self.url}/metrics",
                 "token": self.token},
                out,
            )  # fmt: skip

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
