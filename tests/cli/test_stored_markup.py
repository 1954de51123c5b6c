"""Stored text is shown, never interpreted: markup and escape sequences in every field.

An app server (or an attacker who can reach one) decides every string an
event carries. The human formats must show those strings as they are,
without rich parsing them as markup (a closing tag it did not open crashed
the commands; ``[link=...]`` made a hyperlink) and without handing escape
sequences to the terminal (a hyperlink, an erased line, reordered text).
Every string field of every event type, dead letters' field names (withheld:
they may be content), and the column aliases of an ad-hoc query carry the
corpus below.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from spur.settings import Settings
from spur.terminal import visible
from spur.worker.batch import batch_steps
from spur_schemas.events import Consent, FormSubmission, Profile, WebRequest
from spur_schemas.messages import DeadLetter
from spur_schemas.validate import encode
from spur_streams.batch import Message
from tests.cli.conftest import NOW, Cli, action

# Each at most 64 characters (the shortest free-text field's limit).
CORPUS = (
    "[/x]",
    "[link=https://evil.example]click[/link]",
    "[bold red]FAKE[/] [/]",
    "\x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\",
    "\x1b[2K\x1b[1Aerased",
    "bill\u202efdp.exe",
    "\x9b31mC1\x07\r\x08",
)
AT = NOW - dt.timedelta(hours=1)


def _assert_shown_as_is(output: str, values: tuple[str, ...] = CORPUS) -> None:
    for value in values:
        # A map's values (an action's profile) are shown as JSON, escaped by it.
        as_json = visible(json.dumps(value, ensure_ascii=False)[1:-1])
        assert visible(value) in output or as_json in output, (value, output)
    for acted_on in ("\x1b", "\x9b", "\u202e", "\x07", "\r", "\x08"):
        assert acted_on not in output, (acted_on, output)


@pytest.fixture
def marked(cli: Cli) -> Cli:
    """Every string field of every event type carries markup or escapes; stored.

    The consent decisions are the first login's, stored first, so that its
    actions keep their profile."""
    plain, markup_link, markup_style, osc8, erase_line, bidi, c1 = CORPUS
    steps = batch_steps(cli.store, Settings())
    web = [
        WebRequest(
            request_id=uuid.UUID(int=100 + n), ts=AT, path=f"/{value}", bytes_sent=10,
            user_agent=value, client_ip="203.0.113.9", host=value, status=200,
        )
        for n, value in enumerate(CORPUS)
    ]  # fmt: skip
    forms = [
        FormSubmission(
            submission_id=uuid.UUID(int=200 + n), ts=AT, form=value, client_ip="203.0.113.9",
            user_agent=value, screen_resolution="800x600", isp=value,
        )
        for n, value in enumerate(CORPUS)
    ]  # fmt: skip
    consent = [
        Consent(
            consent_id=uuid.UUID(int=300 + n), ts=AT - dt.timedelta(minutes=1), customer_id=7,
            login=CORPUS[0], purpose="extended_processing", granted=True, source=value,
        )
        for n, value in enumerate(CORPUS)
    ]  # fmt: skip
    bodies: list[tuple[Callable[..., list[DeadLetter]], str, list[bytes]]] = [
        (steps.process_web, "spur.web.v1", [encode(e) for e in web]),
        (steps.process_forms, "spur.forms.v1", [encode(e) for e in forms]),
        (steps.process_consent, "spur.consent.v1", [encode(e) for e in consent]),
    ]
    for process, topic, encoded in bodies:
        letters = process([Message(topic, 0, n, body) for n, body in enumerate(encoded)], NOW)
        assert letters == [], letters
    # After the consent: a login's profile is kept only under its granted consent.
    cli.feed(
        [
            action(
                n, AT, login=login, session_id=session, data_kind=markup_style, data_count=3,
                status="error", error_code=osc8, server=erase_line,
                profile=Profile(
                    locale=plain, timezone=markup_link, company_size=bidi, industry=c1, role=osc8
                ),
            )
            for n, (login, session) in enumerate([(plain, markup_link), (bidi, erase_line)])
        ],
        raw=[json.dumps({field: 1 for field in CORPUS}).encode()],
    )  # fmt: skip
    return cli


@pytest.mark.parametrize("table", ["actions", "web_requests", "form_submissions"])
def test_query_shows_every_stored_string_as_it_is(marked: Cli, table: str) -> None:
    result = marked("query", f"SELECT * FROM {table}")
    assert result.exit_code == 0, result.output
    _assert_shown_as_is(result.output)


def test_query_shows_column_aliases_as_they_are(marked: Cli) -> None:
    def quoted(name: str) -> str:  # ClickHouse's escapes for control characters
        escaped = "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or c in "\\`" else c for c in name)
        return f"`{escaped}`"

    aliases = ", ".join(f"{n} AS {quoted(value)}" for n, value in enumerate(CORPUS))
    result = marked("query", f"SELECT {aliases}")
    assert result.exit_code == 0, result.output
    _assert_shown_as_is(result.output)


@pytest.mark.parametrize("session", [CORPUS[1], CORPUS[4]])
def test_trace_of_a_session_with_markup_shows_it(marked: Cli, session: str) -> None:
    result = marked("trace", "--session", session)
    assert result.exit_code == 0, result.output
    # The title (session, login) and each action's error code.
    login = CORPUS[0] if session == CORPUS[1] else CORPUS[5]
    _assert_shown_as_is(result.output, (session, login, CORPUS[3]))


def test_deadletters_withhold_field_names_that_may_be_content(marked: Cli) -> None:
    # None of the corpus looks like a field's name: each may be content, so
    # neither the letter nor its detail names it; the stand-in, itself
    # bracketed like markup, is shown as it is.
    result = marked("deadletters")
    assert result.exit_code == 0, result.output
    assert "unknown_field" in result.output
    assert "[unknown field]" in result.output, result.output
    assert not [value for value in CORPUS if visible(value) in result.output], result.output
    _assert_shown_as_is(result.output, ())


def test_export_keeps_the_stored_bytes(marked: Cli, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    result = marked("export", "--login", CORPUS[0], "--out", str(out))
    assert result.exit_code == 0, result.output
    strings: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, str):
            strings.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)

    for line in out.read_text().splitlines():
        collect(msgspec.json.decode(line))
    # JSON lines are data: the strings exactly as stored (the login's consent and actions).
    assert set(CORPUS) <= strings, set(CORPUS) - strings


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("plain text, tab\tand\nnewline", "plain text, tab\tand\nnewline"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\x9b2J", "\\x9b2J"),
        ("a\u202eb\u2066c\u200bd", "a\\u202eb\\u2066c\\u200bd"),
        ("[bold]x[/]", "[bold]x[/]"),  # markup is made inert by rich's Text, not rewritten
        ("ünïcødé 東京", "ünïcødé 東京"),
    ],
)
def test_visible_writes_out_only_what_a_terminal_acts_on(stored: str, shown: str) -> None:
    assert visible(stored) == shown
