"""The ``spur`` script in a client-only install: a message naming the extra, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spur.console import NEEDS_WORKER_EXTRA


@pytest.mark.parametrize("missing", ["click", "rich", "pydantic"])
def test_without_the_worker_extra_spur_says_what_to_install(missing: str) -> None:
    # A None entry in sys.modules makes the import fail as if not installed.
    script = f"import sys; sys.modules[{missing!r}] = None; from spur.console import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", script, "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert NEEDS_WORKER_EXTRA in done.stderr
    assert "Traceback" not in done.stderr


def test_with_the_worker_extra_spur_is_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spur", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
