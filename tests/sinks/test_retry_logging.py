"""A store that fails the same way again and again logs its traceback once (spur_sinks.writer).

A local store restarted by its read watch fails every call in flight with
the same dropped connection; a worker must not print a traceback per call.
"""

from __future__ import annotations

import logging
import time

import pytest

from spur_sinks import writer
from spur_sinks.store import StoreError


def _fails_once() -> object:
    state = {"calls": 0}

    def call() -> str:
        state["calls"] += 1
        if state["calls"] == 1:
            try:
                raise EOFError("Unexpected EOF while reading bytes")
            except EOFError as exc:
                raise StoreError.wrap(exc, "insert failed") from exc
        return "stored"

    return call


def test_a_kind_of_failure_shows_its_traceback_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "_TRACEBACKS", writer._SeenFailures())
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    with caplog.at_level(logging.WARNING, logger="spur_sinks.writer"):
        for _ in range(3):  # three calls in flight when the store dropped them
            assert writer.retrying(_fails_once()) == "stored"  # type: ignore[arg-type]
    failed = [r for r in caplog.records if "store call failed" in r.getMessage()]
    assert len(failed) == 3  # one line each
    assert [bool(r.exc_info) for r in failed] == [True, False, False]
