"""trace and export JSON in spur's conventions; unknown subjects; --out."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import spur.cli.trace as trace_command
from spur.cli.trace import tree_depth
from spur.operations.trace import MAX_DEPTH
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


def flattened(roots: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Every action of a trace's JSON with its depth (1: a root), without recursion."""
    found, stack = [], [(root, 1) for root in roots]
    while stack:
        node, depth = stack.pop()
        found.append((node, depth))
        stack.extend((child, depth + 1) for child in node["children"])
    return found


def test_actions_whose_triggers_loop_are_shown_and_marked(cli: Cli) -> None:
    """A producer may name an action as its own trigger, or two as each other's:
    they were nobody's children and no root, so the trace left them out (and
    `--action` of one said nothing was stored)."""
    itself = action(10, STARTED, session_id="loops", parent_action_id=uuid.UUID(int=11))
    first = action(20, STARTED + dt.timedelta(seconds=1), session_id="loops",
                   parent_action_id=uuid.UUID(int=22))  # fmt: skip
    second = action(21, STARTED + dt.timedelta(seconds=2), session_id="loops",
                    parent_action_id=uuid.UUID(int=21))  # fmt: skip
    cli.feed([itself, first, second])
    result = cli("trace", "--session", "loops", "--format", "json")
    assert result.exit_code == 0, result.output
    roots = json.loads(result.output)
    assert [(r["action_id"], r["cycle"]) for r in roots] == [
        (str(itself.action_id), True), (str(first.action_id), True),
    ]  # fmt: skip
    assert [c["action_id"] for c in roots[1]["children"]] == [str(second.action_id)]
    assert not roots[1]["children"][0]["cycle"]
    shown = cli("trace", "--action", str(itself.action_id))
    assert shown.exit_code == 0, shown.output
    assert "loop back to it" in shown.output


def test_a_chain_deeper_than_the_nesting_limit_continues_at_the_top(cli: Cli) -> None:
    """3,000 chained actions made `spur trace` fail with a RecursionError."""
    chain = [action(0, STARTED, session_id="deep")]
    for n in range(1, 2 * MAX_DEPTH + 50):
        chain.append(
            action(n, STARTED + dt.timedelta(milliseconds=n), session_id="deep",
                   parent_action_id=chain[-1].action_id)
        )  # fmt: skip
    cli.feed(chain)
    result = cli("trace", "--session", "deep", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = flattened(json.loads(result.output))
    assert sorted(node["action_id"] for node, _ in shown) == sorted(str(a.action_id) for a in chain)
    assert max(depth for _, depth in shown) == MAX_DEPTH
    continued = [node for node, depth in shown if node["continued"]]
    assert len(continued) == 2
    assert all(depth == 1 for node, depth in shown if node["continued"])
    tree = cli("trace", "--session", "deep")
    assert tree.exit_code == 0, tree.output
    assert tree.output.count("continued: trigger") == 2


def test_a_deep_chain_fits_a_narrow_terminal(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found from outside: in an 80-column terminal a chain of 150 actions showed 39;
    the deeper labels wrapped into 4-column strips and then vanished."""
    chain = [action(0, STARTED, session_id="narrow")]
    for n in range(1, 150):
        chain.append(
            action(n, STARTED + dt.timedelta(milliseconds=n), session_id="narrow",
                   parent_action_id=chain[-1].action_id)
        )  # fmt: skip
    cli.feed(chain)
    monkeypatch.setattr(trace_command, "console", lambda: Console(width=80))
    result = cli("trace", "--session", "narrow")
    assert result.exit_code == 0, result.output
    assert all(str(a.action_id) in result.output for a in chain)
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert tree_depth(80) == 10


def test_stored_newlines_cannot_draw_tree_lines(cli: Cli) -> None:
    """Found from outside: a login and an error code holding a newline and a drawn
    branch printed a fake action under the title and a fake child."""
    forged = action(0, STARTED, session_id="forged", login="ann)\n├── doc.delete (x",
                    status="error", error_code="E1\n└── doc.forged")  # fmt: skip
    cli.feed([forged])
    result = cli("trace", "--session", "forged")
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 2, result.output  # the title, the action
    assert "ann)\\x0a├── doc.delete" in result.output
    assert "E1\\x0a└── doc.forged" in result.output
