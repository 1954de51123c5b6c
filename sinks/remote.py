"""Read an embedded store through the worker that owns it (see spur.worker_api).

Only queries: writes through a running worker are refused with a message
that says what to do. Blocking HTTP on loopback, with a timeout.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sinks.store import Columns, StoreError


class RemoteStore:
    def __init__(self, url: str, token: str, database: str, timeout: float = 60.0) -> None:
        self.database = database
        self._url = url
        self._token = token
        self._timeout = timeout

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        request = urllib.request.Request(  # noqa: S310  # the worker's loopback URL
            f"{self._url}/query",
            data=json.dumps({"sql": sql, "keys": list(keys or ())}).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                rows: list[dict[str, Any]] = json.loads(response.read())
                return rows
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}")
            raise StoreError(detail.get("error", str(exc)), detail.get("code")) from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise StoreError(f"the worker at {self._url} did not answer: {exc}") from exc

    def execute(self, sql: str) -> None:
        raise StoreError(_WRITE_REFUSED, 164)

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        raise StoreError(_WRITE_REFUSED, 164)

    def read_only(self) -> None:
        return  # the worker's query session is read-only already

    def close(self) -> None:
        return


_WRITE_REFUSED = (
    "a worker owns this embedded store and serves reads only; "
    "stop the worker (or use a ClickHouse server) to change data"
)


def worker_state(state_dir: Path) -> dict[str, Any] | None:
    """The running worker's endpoint, if one runs for this state directory."""
    from spur.devbroker import pid_alive

    path = state_dir / "worker.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if pid_alive(int(state.get("pid", 0))) else None
