"""Erase, export, trace, retention and dead letters on a store filled by the pipeline."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from msgspec.structs import replace

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.deadletters import dead_letter_report
from spur.operations.retention import retention_report
from spur.operations.subjects import Subject, count_rows, erase, export, subject_hash
from spur.operations.trace import trace
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.events import Action
from spur_schemas.validate import encode
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from spur_streams.batch import Message

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
SALT = b"test-salt"


def filled(store: Store) -> list[Action]:
    apply_migrations(store, Settings().retention.tables)
    pipeline = batch_steps(store, Settings())
    actions = simulate_actions(WorkloadShape(customers=3, sessions_per_customer=4))
    messages = [Message("spur.actions.v1", 0, n, encode(a)) for n, a in enumerate(actions)]
    bad = {**msgspec.json.decode(encode(actions[0])), "document_title": "x"}
    messages.append(Message("spur.actions.v1", 0, len(messages), msgspec.json.encode(bad)))
    grant = {
        "consent_id": str(uuid.uuid4()), "ts": "2026-10-01T00:00:00Z",
        "customer_id": actions[0].customer_id, "login": actions[0].login,
        "purpose": "extended_processing", "granted": True, "source": "test",
    }  # fmt: skip
    pipeline.process_consent([Message("spur.consent.v1", 0, 0, msgspec.json.encode(grant))], NOW)
    pipeline.process_actions(messages, NOW)
    return actions


def test_erasing_a_customer_leaves_no_row_that_references_it(store: Store) -> None:
    actions = filled(store)
    customer = Subject("customer", str(actions[0].customer_id))
    before = count_rows(store, customer)
    assert before["actions"] > 0
    assert before["usage_hourly"] > 0
    assert before["consent_log"] == 1
    assert before["dead_letters"] == 1
    erasure = erase(store, customer, SALT, input_retention_days=7)
    # The action ids are kept for dedup and reconcile, unlinked from the customer.
    assert erasure.rows_unlinked == {"action_ids": before["action_ids"]}
    assert erasure.rows_removed == {t: n for t, n in before.items() if t != "action_ids"}
    assert all(n == 0 for n in count_rows(store, customer).values())
    (kept,) = store.query(
        f"SELECT countIf(customer_id = 0) AS unlinked FROM {store.database}.action_ids"
    )
    assert kept["unlinked"] == before["action_ids"] > 0
    assert list(export(store, customer)) == []
    others = {a.customer_id for a in actions} - {actions[0].customer_id}
    for other in others:  # nobody else lost anything
        assert count_rows(store, Subject("customer", str(other)))["actions"] > 0
    (audit,) = store.query(
        f"SELECT subject_kind, subject_hash, rows_removed FROM {store.database}.erasure_log"
    )
    assert audit["subject_hash"] == subject_hash(customer, SALT)
    assert str(actions[0].customer_id) not in str(audit)
    assert audit["rows_removed"]["actions"] == before["actions"]


def test_erasing_a_login_keeps_the_customers_billing_aggregates(store: Store) -> None:
    actions = filled(store)
    login = Subject("login", actions[0].login)
    usage_before = store.query(f"SELECT count() AS n FROM {store.database}.usage_hourly")
    erase(store, login, SALT, input_retention_days=7)
    assert all(n == 0 for n in count_rows(store, login).values())
    assert store.query(f"SELECT count() AS n FROM {store.database}.usage_hourly") == usage_before


def test_export_holds_every_row_about_the_subject(store: Store) -> None:
    actions = filled(store)
    login = actions[0].login
    lines = list(export(store, Subject("login", login)))
    tables = {line["table"] for line in lines}
    assert tables == {"actions", "consent_log", "dead_letters"}
    stored_actions = [line["row"] for line in lines if line["table"] == "actions"]
    assert len(stored_actions) == sum(1 for a in actions if a.login == login)
    assert all(row["login"] == login for row in stored_actions)


def test_trace_nests_triggered_actions_and_shows_orphans(store: Store) -> None:
    actions = filled(store)
    chain_root = next(a for a in actions if a.action == "document.upload")
    roots = trace(store, session_id=chain_root.session_id)
    root = next(r for r in roots if r.row["action_id"] == str(chain_root.action_id))
    assert {c.row["action"] for c in root.children} == {
        "document.scan", "thumbnail.render", "index.update",
    }  # fmt: skip
    assert not root.orphan
    # An action whose trigger was never stored is shown, marked, not dropped.
    lost = replace(actions[1], action_id=uuid.uuid4(), parent_action_id=uuid.uuid4())
    batch_steps(store, Settings()).process_actions(
        [Message("spur.actions.v1", 0, 10_000, encode(lost))], NOW
    )
    orphans = [n for n in trace(store, session_id=lost.session_id) if n.orphan]
    assert [n.row["action_id"] for n in orphans] == [str(lost.action_id)]
    assert trace(store, action_id=str(lost.action_id))


def test_retention_report_and_dead_letters(store: Store) -> None:
    filled(store)
    report = {row["table"]: row for row in retention_report(store, Settings())}
    assert report["actions"]["policy_days"] == 365
    assert report["actions"]["rows"] > 0
    assert all(row["conforms"] for row in report.values())
    letters = dead_letter_report(store, reason=None, since=None)
    assert letters["counts"] == {"unknown_field": 1}
    assert letters["recent"][0]["field"] == "document_title"
    assert dead_letter_report(store, reason="not_json", since=None)["total"] == 0


def test_dead_letters_since_a_day_and_a_reason_with_a_quote(store: Store) -> None:
    import datetime as dt

    filled(store)
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    since = dead_letter_report(store, reason=None, since=long_ago)
    assert since["total"] == 1
    assert since["recent"][0]["at"].year == dt.datetime.now(dt.UTC).year
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert dead_letter_report(store, reason=None, since=future)["total"] == 0
    assert dead_letter_report(store, reason="abc' OR 1=1 --", since=None)["total"] == 0
