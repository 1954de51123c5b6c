"""Another user of the host attacks the local broker and gets nothing.

The broker of ``spur dev up``, the demo, the benchmarks and these tests
listens on loopback, which every user of the host shares. A throwaway OS
user (created here, so only where the tests run as root) tries with aiokafka
what an intruder would: read spur.actions.v1 (logins, IPs), produce a forged
action for billing to count, use the controller listener, read the
generated credentials; each attempt must fail, and the topic's end offsets
must not move. The same script with spur's login proves it could have
worked (it is the broker that refuses, not the script that is broken).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from spur.broker import topic_partitions
from spur.client.kafka import KafkaTarget
from spur.dev.broker import LocalBroker
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.local_state import broker_credentials_file
from spur.settings import Settings
from spur.topics import ensure_topics, topic_specs
from spur_schemas.topics import Topic, action_key
from spur_schemas.validate import encode
from tests.integration.streams_helpers import publish_all

pytestmark = pytest.mark.integration

# What the other user runs: each attempt's outcome, "refused: ..." or what it got.
ATTACK = r"""
import asyncio, json, sys
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.protocol.admin import CreateTopicsRequest, DeleteTopicsRequest

plan = json.loads(sys.argv[1])
FORGED = b'{"forged": true, "customer_id": 1, "bytes_out": 999999999999}'


def login(mechanism=None, user=None, password=None):
    if mechanism is None:
        return {}
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
            "sasl_plain_username": user, "sasl_plain_password": password}


async def read(address, **auth):
    consumer = AIOKafkaConsumer(bootstrap_servers=address, auto_offset_reset="earliest",
                                enable_auto_commit=False, **auth)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(plan["topic"], p) for p in range(plan["partitions"])])
        batches = await consumer.getmany(timeout_ms=5000)
        return f"read {sum(len(b) for b in batches.values())} records"
    finally:
        await consumer.stop()


async def produce(address, **auth):
    producer = AIOKafkaProducer(bootstrap_servers=address, **auth)
    await producer.start()
    try:
        await producer.send_and_wait(plan["topic"], FORGED, partition=0)
        return "produced a forged action"
    finally:
        await producer.stop()


async def admin(address, **auth):
    client = AIOKafkaAdminClient(bootstrap_servers=address, **auth)
    await client.start()
    try:
        return f"listed topics {sorted(await client.list_topics())}"
    finally:
        await client.close()


# The controller answers no Metadata request, so clients cannot bootstrap from
# it; a bare connection can still ask it to create and delete topics (it did,
# measured on a controller listener without SASL).
async def controller(address, request, **auth):
    host, port = address.rsplit(":", 1)
    conn = await create_conn(host, int(port), **auth)
    try:
        response = await conn.send(request)
    finally:
        conn.close()
    answer = response.to_object()
    topics = answer.get("topic_errors", []) + answer.get("topic_error_codes", [])
    errors = [topic["error_code"] for topic in topics]
    if any(errors):
        return f"refused: error codes {errors}"
    return f"done: {type(request).__name__}"


def create(validate_only=False):
    return CreateTopicsRequest([("spur.intruder", 1, 1, [], [])], 10000, validate_only)


async def attempt(coroutine):
    try:
        return await asyncio.wait_for(coroutine, 30)
    except Exception as exc:
        return f"refused: {type(exc).__name__}: {str(exc)[:120]}"


def read_file(path):
    try:
        with open(path) as opened:
            return f"read {len(opened.read())} characters"
    except OSError as exc:
        return f"refused: {type(exc).__name__}"


async def main():
    client, address = plan["bootstrap"], plan["controller"]
    guess = login("SCRAM-SHA-512", "spur", "spur")
    if plan.get("password"):  # the control: spur's own login
        own = login("SCRAM-SHA-512", "spur", plan["password"])
        own_controller = login("PLAIN", "controller", plan["controller_password"])
        return {
            "read with spur's login": await attempt(read(client, **own)),
            "controller with spur's login": await attempt(
                controller(address, create(validate_only=True), **own)),
            "controller with its password": await attempt(
                controller(address, create(validate_only=True), **own_controller)),
        }
    results = {
        "read without credentials": await attempt(read(client)),
        "produce without credentials": await attempt(produce(client)),
        "admin without credentials": await attempt(admin(client)),
        "read with a guessed password": await attempt(read(client, **guess)),
        "produce with a guessed password": await attempt(produce(client, **guess)),
        "admin via the controller": await attempt(admin(address)),
        "create a topic via the controller": await attempt(controller(address, create())),
        "delete spur.actions.v1 via the controller": await attempt(
            controller(address, DeleteTopicsRequest([plan["topic"]], 10000))),
        "create a topic via the controller, guessed PLAIN password": await attempt(
            controller(address, create(), **login("PLAIN", "controller", "controller"))),
    }
    for path in plan["files"]:
        results[f"read {path}"] = read_file(path)
    return results

print(json.dumps(asyncio.run(main())))
"""


@dataclass(frozen=True)
class OtherUser:
    name: str
    python: str
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, *args], user=self.name, group=self.name, extra_groups=[],
            env=self.env, cwd="/", capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip


def python_for(name: str, env: dict[str, str]) -> str | None:
    """An interpreter the other user may run that imports aiokafka (this one may
    live under a home directory closed to other users)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [os.path.realpath(sys.executable), shutil.which(version, path="/usr/bin:/bin")]
    for python in filter(None, candidates):
        try:
            probe = OtherUser(name, python, env).run("-c", "import aiokafka")
        except OSError:
            continue
        if probe.returncode == 0:
            return python
    return None


@pytest.fixture
def other_user() -> Iterator[OtherUser]:
    """A throwaway OS user with no home, removed at the end (also on failure)."""
    if os.geteuid() != 0:
        pytest.skip("creating a throwaway OS user to attack the broker needs root")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd/userdel are not installed: no throwaway OS user")
    name = f"spur-intruder-{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        # The interpreter's packages (aiokafka), readable by anyone; nothing of spur's.
        site = [p for p in sys.path if p.endswith("site-packages")]
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": os.pathsep.join(site),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        python = python_for(name, env)
        if python is None:
            pytest.skip(f"no Python interpreter that {name} may run imports aiokafka")
        yield OtherUser(name, python, env)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


async def end_offsets(target: KafkaTarget) -> dict[int, int]:
    admin = AIOKafkaAdminClient(**target.client_kwargs())
    await admin.start()
    try:
        partitions = await topic_partitions(admin, [Topic.ACTIONS.value])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**target.client_kwargs())
    await consumer.start()
    try:
        return {tp.partition: n for tp, n in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


def test_another_user_of_the_host_gets_nothing_from_the_broker(
    kafka_broker: LocalBroker, fresh_topics: KafkaTarget, other_user: OtherUser
) -> None:
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=3, seed=21))
    asyncio.run(publish_all(fresh_topics, [(action_key(a.action_id), encode(a)) for a in actions]))
    before = asyncio.run(end_offsets(fresh_topics))
    assert sum(before.values()) == len(actions)
    existing = asyncio.run(topics(fresh_topics))  # spur's, and those of other tests' groups
    data = kafka_broker.data_dir
    plan = {
        "bootstrap": kafka_broker.bootstrap,
        "controller": f"127.0.0.1:{kafka_broker.controller_port}",
        "topic": Topic.ACTIONS.value,
        "partitions": len(before),
        "files": [str(broker_credentials_file(data)), str(data / "server.properties")],
    }

    attacked = other_user.run("-c", ATTACK, json.dumps(plan))
    assert attacked.returncode == 0, attacked.stderr[-3000:]
    results = json.loads(attacked.stdout)
    assert len(results) == 11, results
    assert {k: v for k, v in results.items() if not v.startswith("refused")} == {}
    assert asyncio.run(end_offsets(fresh_topics)) == before  # nothing forged went in
    assert asyncio.run(topics(fresh_topics)) == existing  # none made or deleted

    # The control: the same script, as the same user, with spur's login.
    assert fresh_topics.password is not None
    assert kafka_broker.credentials is not None
    control = {
        **plan,
        "password": fresh_topics.password.get_secret_value(),
        "controller_password": kafka_broker.credentials.controller_password,
    }
    # The password travels in argv here, in the test only, to a user removed after it.
    logged_in = other_user.run("-c", ATTACK, json.dumps(control))
    assert logged_in.returncode == 0, logged_in.stderr[-3000:]
    outcome = json.loads(logged_in.stdout)
    assert outcome["read with spur's login"] == f"read {len(actions)} records", outcome
    # The controller listener takes only its own password, not the clients'.
    assert outcome["controller with spur's login"].startswith("refused"), outcome
    assert outcome["controller with its password"] == "done: CreateTopicsRequest", outcome


def test_the_same_attack_succeeds_against_a_broker_without_authentication(
    tmp_path: Path, other_user: OtherUser
) -> None:
    """What the broker was before: the attack is real, the refusals above are the broker's."""
    broker = LocalBroker(data_dir=tmp_path / "kafka", authenticate=False)
    broker.start()
    try:
        asyncio.run(ensure_topics(broker.target, topic_specs(Settings())))
        actions = simulate_actions(WorkloadShape(customers=1, sessions_per_customer=2, seed=3))
        asyncio.run(
            publish_all(broker.target, [(action_key(a.action_id), encode(a)) for a in actions])
        )
        plan = {
            "bootstrap": broker.bootstrap,
            "controller": f"127.0.0.1:{broker.controller_port}",
            "topic": Topic.ACTIONS.value,
            "partitions": Settings().broker.topic_partitions,
            "files": [],
        }
        attacked = other_user.run("-c", ATTACK, json.dumps(plan))
    finally:
        broker.stop()
    assert attacked.returncode == 0, attacked.stderr[-3000:]
    results = json.loads(attacked.stdout)
    opened = {
        "read without credentials": f"read {len(actions)} records",
        "produce without credentials": "produced a forged action",
        "create a topic via the controller": "done: CreateTopicsRequest",
        "delete spur.actions.v1 via the controller": "done: DeleteTopicsRequest",
    }
    assert {attempt: results[attempt] for attempt in opened} == opened, results


async def topics(target: KafkaTarget) -> set[str]:
    admin = AIOKafkaAdminClient(**target.client_kwargs())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_the_broker_passwords_are_private_and_on_no_command_line(
    kafka_broker: LocalBroker,
) -> None:
    credentials = kafka_broker.credentials
    assert credentials is not None
    data = kafka_broker.data_dir
    assert data.stat().st_mode & 0o777 == 0o700
    for path in (broker_credentials_file(data), data / "server.properties"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    passwords = [
        credentials.password.encode(),
        credentials.broker_password.encode(),
        credentials.controller_password.encode(),
    ]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes()
        except OSError:
            continue  # ended meanwhile
        assert not any(password in arguments for password in passwords), cmdline
    assert not any(password in kafka_broker.log_path.read_bytes() for password in passwords)
