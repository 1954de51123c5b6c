"""Commands run where no store runs, and with a misspelt SPUR_ variable.

Run as the user would: the console entry point in a fresh directory, with
no SPUR_* variable but those the test sets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spur.processes import free_port


def spur(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPUR_")}
    return subprocess.run(
        [sys.executable, "-m", "spur", *args],
        cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [
        ["billing", "--month", "2026-11"],
        ["query", "top_customers"],
        ["trace", "--session", "s1"],
        ["deadletters"],
        ["export", "--customer", "5"],
    ],
)
def test_a_read_without_a_store_says_how_to_start_one(tmp_path: Path, command: list[str]) -> None:
    result = spur(tmp_path, *command)
    assert result.returncode == 1, result.stderr
    assert "Error: no local store runs" in result.stderr
    assert "Hint: start one with `spur dev up`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".spur").exists()  # no empty store made here


def test_status_does_not_call_a_missing_store_reachable(tmp_path: Path) -> None:
    result = spur(tmp_path, "status", "--format", "json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["store"]["reachable"] is False
    assert "no local store runs" in document["store"]["error"]
    assert "spur dev up" in document["store"]["hint"]
    assert not (tmp_path / ".spur").exists()


def test_a_misspelt_variable_exits_2_naming_it_and_the_closest_name(tmp_path: Path) -> None:
    result = spur(tmp_path, "status", SPUR_CLICKHOUSE_ULR="clickhouse://a:b@h:9000/spur")
    assert result.returncode == 2, result.stderr
    assert "Error: SPUR_CLICKHOUSE_ULR is not a spur setting" in result.stderr
    assert "Hint: did you mean SPUR_CLICKHOUSE_URL?" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_deployments_clickhouse_passwords_are_not_settings_but_allowed(tmp_path: Path) -> None:
    result = spur(tmp_path, "status", SPUR_CH_OPS_PASSWORD="x")
    assert "not a spur setting" not in result.stderr


@pytest.mark.parametrize("command", [["billing", "--month", "2026-11"], ["query", "SELECT 1"]])
def test_an_unreachable_store_is_one_error_line(tmp_path: Path, command: list[str]) -> None:
    url = f"clickhouse://spur:secret@127.0.0.1:{free_port()}/spur"
    result = spur(tmp_path, *command, SPUR_CLICKHOUSE_URL=url)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["billing", "--month", "2026-13"],
        ["billing", "--month", "2026-11", "--tz", "Mars/Base"],
        ["billing", "--month", "2026-11", "--tz", ""],  # not the default zone
        ["billing", "close", "--month", "2026-11", "--tz", "Etc"],
        ["reconcile", "--month", "2026-11", "--tz", "A/" * 250 + "UTC"],
        ["reconcile", "--month", "9999-12"],
        ["billing", "close", "--month", "0000-01"],
        ["query", ""],
        ["query", "no_such_saved_query"],
    ],
)
def test_bad_input_exits_2_before_looking_for_a_store(tmp_path: Path, command: list[str]) -> None:
    result = spur(tmp_path, *command)
    assert result.returncode == 2, result.stderr
    assert "no local store runs" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [["billing", "--month", "2026-11"], ["billing", "close", "--month", "2026-11"],
     ["reconcile", "--month", "2026-11"]],
)  # fmt: skip
def test_a_bad_zone_setting_is_named_as_the_variable(tmp_path: Path, command: list[str]) -> None:
    # Found from outside: the message named --tz, which the user had not given.
    result = spur(tmp_path, *command, SPUR_BILLING_TIMEZONE="right/UTC")
    assert result.returncode == 2, result.stderr
    assert "SPUR_BILLING_TIMEZONE 'right/UTC': not an IANA time zone" in result.stderr
    assert "--tz" not in result.stderr.split("not an IANA")[0]
