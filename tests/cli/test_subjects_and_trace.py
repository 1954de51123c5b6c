"""trace and export JSON in spur's conventions; unknown subjects; --out."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from tests.cli.conftest import Cli, action

STARTED = dt.datetime(2026, 11, 24, 10, 15, 31, 250_000, tzinfo=dt.UTC)


def feed_a_chain(cli: Cli) -> None:
    root = action(0, STARTED)
    child = action(1, STARTED + dt.timedelta(seconds=1), parent_action_id=root.action_id,
                   status="error", error_code="E42")  # fmt: skip
    cli.feed([root, child])


def test_trace_json_shows_null_parents_ipv4_and_utc_milliseconds(cli: Cli) -> None:
    feed_a_chain(cli)
    result = cli("trace", "--session", "s1", "--format", "json")
    assert result.exit_code == 0, result.output
    (root,) = json.loads(result.output)
    assert root["parent_action_id"] is None
    assert root["error_code"] is None
    assert root["started_at"] == "2026-11-24T10:15:31.250Z"
    # The id's stored halves (migration 0011) are not the subject's data: the id is.
    assert not {"action_id_high", "action_id_low"} & set(root)
    (child,) = root["children"]
    assert child["parent_action_id"] == str(uuid.UUID(int=1))
    assert child["error_code"] == "E42"


def test_trace_tree_is_printed(cli: Cli) -> None:
    feed_a_chain(cli)
    result = cli("trace", "--action", str(uuid.UUID(int=2)))
    assert result.exit_code == 0, result.output
    assert "ERROR E42" in result.output
    assert "session s1 (customer 7, ann)" in result.output


def test_export_json_shows_null_for_absent_fields_ipv4_and_utc_milliseconds(cli: Cli) -> None:
    feed_a_chain(cli)
    result = cli("export", "--customer", "7")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    rows = [line["row"] for line in lines if line["table"] == "actions"]
    root = next(r for r in rows if r["action_id"] == str(uuid.UUID(int=1)))
    assert root["parent_action_id"] is None
    assert root["error_code"] is None
    assert root["data_kind"] is None
    assert root["data_count"] is None
    assert root["client_ip"] == "203.0.113.242"
    assert root["started_at"] == "2026-11-24T10:15:31.250Z"


def test_export_of_an_unknown_subject_says_so(cli: Cli) -> None:
    result = cli("export", "--customer", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "nothing is stored about the customer 5" in result.stderr


def test_erase_of_an_unknown_subject_says_so(cli: Cli) -> None:
    result = cli("erase", "--login", "nobody", "--yes")
    assert result.exit_code == 0, result.output
    assert "nothing was stored about the login nobody" in result.output


def test_export_to_a_missing_directory_exits_2_with_a_message(cli: Cli) -> None:
    result = cli("export", "--customer", "7", "--out", "/nonexistent/dir/x.jsonl")
    assert result.exit_code == 2, result.output
    assert "Error: --out /nonexistent/dir/x.jsonl: No such file or directory" in result.stderr
    assert "Traceback" not in result.output


def test_export_to_a_file_says_how_many_rows(cli: Cli, tmp_path: Path) -> None:
    feed_a_chain(cli)
    out = tmp_path / "x.jsonl"
    result = cli("export", "--customer", "7", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"rows about the customer 7 to {out}" in result.output
    assert len(out.read_text().splitlines()) >= 2


def test_export_to_a_full_disk_exits_1_with_a_message(cli: Cli) -> None:
    feed_a_chain(cli)
    result = cli("export", "--customer", "7", "--out", "/dev/full")
    assert result.exit_code == 1, result.output
    assert "Error: No space left on device" in result.stderr
    assert "Traceback" not in result.output
