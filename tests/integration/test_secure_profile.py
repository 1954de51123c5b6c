"""The secure profile: SASL_SSL with SCRAM-SHA-512 and TLS from a throwaway CA."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from spur.client import Publisher
from spur.client.kafka import KafkaTarget
from spur.dev.broker import LocalBroker, SecureListener
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings, parse_store_url
from spur.topics import ensure_topics, topic_specs
from spur_schemas.topics import Topic
from tests.certs import make_certificates
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli
from tests.oracle import expected_billing

pytestmark = pytest.mark.integration
PASSWORD = "s3cret-Worker-Passw0rd"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalBroker, Path]]:
    directory = tmp_path_factory.mktemp("secure")
    ca, pem = make_certificates(directory / "certs")
    broker = LocalBroker(
        data_dir=directory / "kafka",
        secure=SecureListener(pem=pem, users={"spur-worker": PASSWORD}),
    )
    broker.start()
    try:
        yield broker, ca
    finally:
        broker.stop()


def target(broker: LocalBroker, ca: Path, password: str = PASSWORD) -> KafkaTarget:
    return KafkaTarget(broker.secure_bootstrap, "SASL_SSL", "spur-worker", SecretStr(password), ca)


def test_client_and_worker_work_over_sasl_ssl(
    secure_broker: tuple[LocalBroker, Path], tmp_path: Path, store_url: str
) -> None:
    broker, ca = secure_broker
    secure = target(broker, ca)
    asyncio.run(ensure_topics(secure, topic_specs(Settings())))
    actions = simulate_actions(WorkloadShape(customers=3, sessions_per_customer=5))

    async def publish() -> None:
        async with Publisher(secure) as publisher:
            for action in actions:
                await publisher.publish(action)

    asyncio.run(publish())
    env = spur_env(broker.secure_bootstrap, tmp_path, store_url,
        SPUR_CONSUMER_GROUP="secure",
        SPUR_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        SPUR_KAFKA_SASL_USERNAME="spur-worker",
        SPUR_KAFKA_SASL_PASSWORD=PASSWORD,
        SPUR_KAFKA_SSL_CAFILE=str(ca),
    )  # fmt: skip
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        wait_until_committed(secure, "secure", [Topic.ACTIONS], worker=worker, log=log)
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert billed_by_cli(result.stdout) == expected_billing(actions)
    # Neither the Kafka nor the store password, anywhere the worker or a command wrote.
    store_password = parse_store_url(store_url).password.get_secret_value()
    status = spur(env, "status", "--format", "json")
    for text in (log.read_text(), result.stdout, result.stderr, status.stdout, status.stderr):
        assert PASSWORD not in text
        assert store_password not in text


def test_a_wrong_password_is_refused_without_echoing_it(
    secure_broker: tuple[LocalBroker, Path], store_url: str
) -> None:
    broker, ca = secure_broker
    wrong = "not-the-Passw0rd"

    async def attempt() -> None:
        publisher = Publisher(target(broker, ca, password=wrong))
        try:
            await publisher.start()
        finally:
            await publisher.stop()

    with pytest.raises(KafkaError) as refused:
        asyncio.run(attempt())
    assert wrong not in str(refused.value)
    assert wrong not in repr(target(broker, ca, password=wrong))


def test_plaintext_to_the_secure_listener_is_refused(
    secure_broker: tuple[LocalBroker, Path], store_url: str
) -> None:
    broker, _ca = secure_broker

    async def attempt() -> None:
        publisher = Publisher(broker.secure_bootstrap)  # no TLS, no credentials
        try:
            await asyncio.wait_for(publisher.start(), 20)
        finally:
            await publisher.stop()

    with pytest.raises((KafkaError, TimeoutError)):
        asyncio.run(attempt())
