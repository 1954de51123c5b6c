"""The worker's metrics endpoint answers bad requests with 4xx and no traceback
(docs/security.md#private-on-disk), spoken to over raw sockets as an attacker would."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from spur.worker.api import WorkerAPI


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WorkerAPI]:
    served = WorkerAPI(0)
    served.start(tmp_path / "state" / "worker.json")
    try:
        yield served
    finally:
        served.stop()


def exchange(api: WorkerAPI, raw: bytes, timeout: float = 15.0) -> bytes:
    with socket.create_connection(("127.0.0.1", api.port), timeout=timeout) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/"), answer[:200]
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        (b"GET /query HTTP/1.1\r\n\r\n", 404),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/9.9 extra words\r\n\r\n", 400),
        (b"GET /\xc3\xa9\xff HTTP/1.1\r\nAuthorization: Bearer \xe2\x82\xac\r\n\r\n", 404),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /metrics HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /metrics HTTP/1.1\r\n" + b"X-H: 1\r\n" * 200 + b"\r\n", 431),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 405),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: abc\r\n\r\n{", 405),
        (b"POST /query HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{bad json", 405),
        (b"PUT /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 405),
    ],
)
def test_bad_requests_get_4xx_without_traceback(api: WorkerAPI, raw: bytes, expected: int) -> None:
    answer = exchange(api, raw)
    assert status(answer) == expected
    assert b"Traceback" not in answer


def test_a_silent_client_does_not_hold_a_thread_for_ever(api: WorkerAPI) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        sock.sendall(b"POST /metrics HTTP/1.1\r\nContent-Length: 1000\r\n")  # never ends
        assert sock.recv(65536) == b""  # the server hung up (after its timeout)
    assert status(exchange(api, b"GET /metrics HTTP/1.1\r\n\r\n")) == 200


def test_worker_json_is_private(api: WorkerAPI, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "worker.json").stat().st_mode) == 0o600
