"""The first vertical slice, all real: client -> Kafka -> Faust -> chdb -> billing."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import urllib.request
import uuid
from pathlib import Path

import pytest

from spur.client import Publisher
from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.events import Action, FormSubmission, WebRequest
from spur_schemas.topics import INPUT_TOPICS, Topic
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.oracle import expected_billing
from tests.topic_contents import count_by_reason, read_dead_letters

pytestmark = pytest.mark.integration

BAD = {
    b"{oops": "not_json",
    b'"a string"': "not_object",
    b'{"action_id": "6f1b1b9e-2c7e-4a53-9a5e-2b8c1c1f0e11", "note": "content!"}': "unknown_field",
}
WEB = WebRequest(
    request_id=uuid.UUID(int=1),
    ts=dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC),
    path="/docs/report.pdf?token=secret#page=2",
    bytes_sent=5120,
    user_agent="Mozilla/5.0",
    client_ip="203.0.113.77",
)
FORM = FormSubmission(
    submission_id=uuid.UUID(int=2),
    ts=dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC),
    form="contact",
    client_ip="2001:db8:1234:5678::1",
    user_agent="Mozilla/5.0",
    screen_resolution="1920x1080",
)


async def publish(bootstrap: KafkaTarget, actions: list[Action], bad: list[bytes]) -> None:
    async with Publisher(bootstrap) as publisher:
        for action in actions:
            await publisher.publish(action)
        await publisher.publish(WEB)
        await publisher.publish(FORM)
        for raw in bad:
            await publisher.publish_raw(Topic.ACTIONS.value, raw, key=b"1")


def query_json(env: dict[str, str], sql: str) -> object:
    result = spur(env, "query", sql, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_published_actions_are_billed_exactly(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    shape = WorkloadShape(customers=10, sessions_per_customer=12, seed=11)
    actions = list(simulate_actions(shape))
    redelivered = actions[::9]  # an app server re-sending some actions: same ids
    assert len(actions) >= 300
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="slice")
    log = tmp_path / "worker.log"

    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, actions + redelivered, list(BAD)))
        wait_until_committed(fresh_topics, "slice", list(INPUT_TOPICS), worker=worker, log=log)
        endpoint = json.loads((tmp_path / "state" / "worker.json").read_text())["metrics"]
        with urllib.request.urlopen(endpoint, timeout=10) as response:  # loopback
            exposed = response.read().decode()
        # Commands are clients of the store like the worker: they run meanwhile.
        while_running = spur(env, "billing", "--month", "2026-11", "--format", "json")
        repair_meanwhile = spur(env, "reconcile", "--month", "2026-11", "--repair")

    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    got = {
        row["customer_id"]: (row["bytes_in"], row["bytes_out"], row["actions"])
        for row in document["customers"]
    }
    assert got == expected_billing(actions)
    assert len(got) == 10
    assert while_running.returncode == 0, while_running.stderr
    assert json.loads(while_running.stdout) == document
    assert repair_meanwhile.returncode == 0, repair_meanwhile.stderr
    for row in document["customers"]:
        assert row["bytes_total"] == row["bytes_in"] + row["bytes_out"]

    delivered = float(len(actions) + len(redelivered) + len(BAD))
    assert f'spur_events_in_total{{topic="spur.actions.v1"}} {delivered}' in exposed
    assert 'spur_events_rejected_total{reason="unknown_field",topic="spur.actions.v1"} 1.0' in (
        exposed
    )
    assert f"spur_duplicates_total {float(len(redelivered))}" in exposed

    # Privacy on the other paths: query strings stripped, IPs truncated.
    web = query_json(env, "SELECT path, toString(client_ip) AS ip FROM web_requests")
    assert web == [{"path": "/docs/report.pdf", "ip": "::ffff:203.0.113.0"}]
    forms = query_json(env, "SELECT toString(client_ip) AS ip FROM form_submissions")
    assert forms == [{"ip": "2001:db8:1234::"}]
    refused = spur(env, "query", "DROP TABLE actions")
    assert refused.returncode == 2
    assert "refused: DROP" in refused.stderr
    assert query_json(env, "SELECT count() AS n FROM actions") == [{"n": len(actions)}]

    letters = asyncio.run(read_dead_letters(fresh_topics))
    assert count_by_reason(letters) == {reason: 1 for reason in BAD.values()}
    originals = [base64.b64decode(letter.original_b64) for letter in letters]
    assert any(b"[redacted]" in original for original in originals)
    assert all(b"content!" not in original for original in originals)


def test_the_commands_users_run(fresh_topics: KafkaTarget, tmp_path: Path, store_url: str) -> None:
    actions = simulate_actions(WorkloadShape(customers=3, sessions_per_customer=4, seed=2))
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="users")
    log = tmp_path / "worker.log"
    target = actions[0]
    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, actions, list(BAD)))
        wait_until_committed(fresh_topics, "users", list(INPUT_TOPICS), worker=worker, log=log)
        tree = spur(env, "trace", "--session", target.session_id)  # while the worker runs

    assert tree.returncode == 0, tree.stderr
    assert target.action in tree.stdout
    assert str(target.action_id) in tree.stdout

    status = json.loads(spur(env, "status", "--format", "json").stdout)
    assert status["broker"]["reachable"]
    assert status["broker"]["consumer_lag"]["spur.actions.v1"] == 0
    assert {"actions", "usage_hourly"} <= {t["table"] for t in status["store"]["tables"]}

    retention = spur(env, "retention", "--format", "json")
    assert retention.returncode == 0, retention.stderr
    assert all(row["conforms"] for row in json.loads(retention.stdout))

    letters = json.loads(spur(env, "deadletters", "--format", "json").stdout)
    assert letters["counts"] == {reason: 1 for reason in BAD.values()}

    exported = spur(env, "export", "--customer", str(target.customer_id))
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    owned = sum(1 for a in actions if a.customer_id == target.customer_id)
    assert sum(1 for line in lines if line["table"] == "actions") == owned

    erased = spur(env, "erase", "--customer", str(target.customer_id), "--yes", "--format", "json")
    assert erased.returncode == 0, erased.stderr
    report = json.loads(erased.stdout)
    assert report["rows_removed"]["actions"] == owned
    assert "kafka_input_copies_expire_by" in report
    again = spur(env, "export", "--customer", str(target.customer_id))
    assert again.returncode == 0
    assert again.stdout == ""
    unconfirmed = spur(env, "erase", "--login", target.login)
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr
