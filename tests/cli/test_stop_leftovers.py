"""What a stop leaves in finalizers is one line, not a traceback (spur.cli.main).

Found in CI: SIGTERM came while the demo's publisher connected; the
interrupted coroutine, finalized after its event loop closed, printed a
traceback ("Event loop is closed") to the demo's stderr.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

import pytest

from spur.cli import main as cli_main


@pytest.fixture
def stopping() -> Iterator[None]:
    cli_main._terminating.set()
    try:
        yield
    finally:
        cli_main._terminating.clear()


def _unraisable_after_the_loop_closed() -> sys.UnraisableHookArgs:
    """What the interpreter hands the hook for a coroutine finalized after its loop closed."""
    caught: list[sys.UnraisableHookArgs] = []

    async def connecting(loop_closed: asyncio.Future[None]) -> None:
        try:
            await loop_closed
        finally:
            raise RuntimeError("Event loop is closed")

    loop = asyncio.new_event_loop()
    coroutine = connecting(loop.create_future())
    coroutine.send(None)  # suspended where an interrupted connect would be
    loop.close()
    previous, sys.unraisablehook = sys.unraisablehook, caught.append
    try:
        del coroutine  # finalized: its finally raises
    finally:
        sys.unraisablehook = previous
    (args,) = caught
    return args


def test_while_stopping_a_finalizers_error_is_one_line(
    stopping: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_main._interrupt_again(_unraisable_after_the_loop_closed())
    err = capsys.readouterr().err
    assert err.startswith("while stopping: RuntimeError: Event loop is closed (in ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_otherwise_the_interpreter_reports_it_whole(capsys: pytest.CaptureFixture[str]) -> None:
    cli_main._interrupt_again(_unraisable_after_the_loop_closed())
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "RuntimeError: Event loop is closed" in err
