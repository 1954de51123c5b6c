"""Action recording semantics, without a broker: what the client would emit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from spur.client.recording import ContractError, Recording
from spur_schemas.events import Action, Consent, Event, WebRequest

WHO: dict[str, Any] = {
    "customer_id": 7, "login": "ann", "session_id": "s-1", "client_ip": "10.1.2.3",
}  # fmt: skip


class Collected(Recording):
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def actions(recorder: Collected) -> dict[str, Action]:
    return {e.action: e for e in recorder.events if isinstance(e, Action)}


async def test_nested_actions_form_a_chain() -> None:
    t = Collected()
    async with t.action("document.upload", **WHO) as upload:
        upload.bytes_in = 1000
        async with t.action("document.scan", **WHO), t.action("ocr.page", **WHO) as page:
            page.data_kind, page.data_count = "page", 3
        async with t.action("thumbnail.render", **WHO):
            pass
    async with t.action("document.open", **WHO):
        pass
    got = actions(t)
    assert got["document.upload"].parent_action_id is None
    assert got["document.upload"].bytes_in == 1000
    assert got["document.scan"].parent_action_id == got["document.upload"].action_id
    assert got["ocr.page"].parent_action_id == got["document.scan"].action_id
    assert got["thumbnail.render"].parent_action_id == got["document.upload"].action_id
    assert got["document.open"].parent_action_id is None  # the chain ended with its block
    assert (got["ocr.page"].data_kind, got["ocr.page"].data_count) == ("page", 3)
    for action in got.values():
        assert action.started_at <= action.ended_at


async def test_actions_in_tasks_spawned_inside_a_block_join_its_chain() -> None:
    t = Collected()

    async def background() -> None:
        async with t.action("index.update", **WHO):
            await asyncio.sleep(0)

    async with t.action("document.upload", **WHO):
        await asyncio.gather(background(), background())
    got = [e for e in t.events if isinstance(e, Action)]
    root = next(a for a in got if a.action == "document.upload")
    children = [a for a in got if a.action == "index.update"]
    assert len(children) == 2
    assert all(child.parent_action_id == root.action_id for child in children)


async def test_an_exception_marks_the_action_failed_and_propagates() -> None:
    t = Collected()
    with pytest.raises(TimeoutError):
        async with t.action("report.build", **WHO), t.action("query.run", **WHO):
            raise TimeoutError("db slow")
    got = actions(t)
    assert (got["query.run"].status, got["query.run"].error_code) == ("error", "TimeoutError")
    assert (got["report.build"].status, got["report.build"].error_code) == ("error", "TimeoutError")


def test_synchronous_blocks_record_the_same_way() -> None:
    t = Collected()
    with t.action("login", **WHO) as login, t.action("session.start", **WHO):
        login.bytes_out = 5
    got = actions(t)
    assert got["session.start"].parent_action_id == got["login"].action_id
    assert got["login"].status == "ok"
    assert got["login"].error_code is None


def test_a_field_outside_the_contract_is_refused_before_the_block_runs() -> None:
    t = Collected()
    with pytest.raises(ContractError) as refused:
        t.action("document.export", document_title="Q3 salaries", **WHO)
    assert refused.value.rejection.reason == "unknown_field"
    assert refused.value.rejection.field == "document_title"
    with pytest.raises(ContractError, match="unknown_field"):
        t.web_request(path="/", bytes_sent=1, user_agent="ua", client_ip="::1", cookie="x")
    assert t.events == []


def test_web_requests_and_consents_get_ids_and_times() -> None:
    t = Collected()
    t.web_request(path="/docs", bytes_sent=10, user_agent="ua", client_ip="::1")
    t.consent(customer_id=7, login="ann", granted=True, source="checkbox:signup")
    web, consent = t.events
    assert isinstance(web, WebRequest)
    assert isinstance(consent, Consent)
    assert consent.purpose == "extended_processing"
    assert web.ts.tzinfo is not None
